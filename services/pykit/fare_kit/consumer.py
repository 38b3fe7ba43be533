"""The queue loop: receive from the service's queue, handle each event once
(the inbox remembers event ids in the service's SQLite database), delete
it once handled. A message that failed for now is left, its visibility set
to a backoff delay (`FARE_RETRY_BASE_SECONDS` doubled per attempt, at most
`FARE_RETRY_MAX_SECONDS`): SQS redelivers it and, after
`max_receive_count` receives, moves it to the dead-letter queue. One that
can never be handled (not an envelope, data that does not fit, an event
type it has no handler for) is moved to the dead-letter queue at once, the
reason in its `fare_rejection` attribute, as the Rust kit does."""

import logging
import sqlite3
import threading

from . import aws, config, envelope

log = logging.getLogger("fare_kit.consumer")

INBOX = "CREATE TABLE IF NOT EXISTS fare_inbox (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, handled_at TEXT NOT NULL)"


class Consumer:
    """Runs `handlers[event_type](db, event, attributes)` for each message;
    a handler's writes and the inbox row commit together."""

    def __init__(self, database, handlers, stopping):
        self.queue_url = config.need("FARE_QUEUE_URL", "the URL of this service's queue")
        self.wait = int(config.get("FARE_POLL_WAIT_SECONDS", "10"))
        self.database = database
        self.handlers = handlers
        self.stopping = stopping
        self.sqs = aws.Sqs()
        self.dead_letter_url = config.get("FARE_DLQ_URL")
        self.retry_base = int(config.get("FARE_RETRY_BASE_SECONDS", "1"))
        self.retry_max = int(config.get("FARE_RETRY_MAX_SECONDS", "30"))
        self.handling = 0
        self.lock = threading.Lock()

    def reachable(self):
        self.sqs.reachable(self.queue_url)

    def run(self):
        while not self.stopping.is_set():
            try:
                messages = self.sqs.receive(self.queue_url, self.wait)
            except aws.AwsError as e:
                log.warning("receiving from the queue failed: %s", e)
                self.stopping.wait(1)
                continue
            for message in messages:
                with self.lock:
                    self.handling += 1
                try:
                    self.handle(message)
                finally:
                    with self.lock:
                        self.handling -= 1

    def handle(self, message):
        try:
            event = envelope.parse(message["body"])
        except envelope.BadEnvelope as e:
            return self.reject(message, str(e), f"message_id={message['id']}")
        context = f"correlation_id={event['correlation_id']} event_id={event['id']} event_type={event['type']}"
        handler = self.handlers.get(event["type"])
        if handler is None:
            return self.reject(message, f"no handler for {event['type']}", context)
        db = sqlite3.connect(self.database, timeout=30)
        try:
            with db:
                seen = db.execute("SELECT 1 FROM fare_inbox WHERE event_id = ?", (event["id"],)).fetchone()
                if seen is None:
                    handler(db, event, message["attributes"])
                    db.execute("INSERT INTO fare_inbox VALUES (?, ?, ?)", (event["id"], event["type"], envelope.now_rfc3339()))
        except envelope.BadEnvelope as e:
            return self.reject(message, str(e), context)
        except Exception as e:  # a failing handler must not stop the loop
            return self.retry(message, e, context)
        finally:
            db.close()
        log.info("%s %s", "duplicate ignored" if seen is not None else "handled", context)
        try:
            self.sqs.delete(self.queue_url, message["receipt"])
        except aws.AwsError as e:
            log.warning("deleting a handled message failed (it comes back, and is ignored then) %s: %s", context, e)

    def retry(self, message, error, context):
        attempt = message["receive_count"]
        delay = min(self.retry_base * 2 ** min(attempt - 1, 20), self.retry_max)
        log.warning("attempt %d failed; retrying in %ds %s: %s", attempt, delay, context, error)
        try:
            self.sqs.set_visibility(self.queue_url, message["receipt"], delay)
        except aws.AwsError as e:
            log.warning("setting the retry delay failed %s: %s", context, e)

    def reject(self, message, reason, context):
        """Straight to the dead-letter queue: trying again would not help."""
        try:
            if not self.dead_letter_url:
                raise aws.AwsError("FARE_DLQ_URL is not set")
            attributes = {**{k: v for k, v in message["attributes"].items() if v is not None}, "fare_rejection": reason[:1024]}
            self.sqs.send(self.dead_letter_url, message["body"], attributes)
            self.sqs.delete(self.queue_url, message["receipt"])
            log.error("rejected (attempt %d): moved to the dead-letter queue %s: %s", message["receive_count"], context, reason)
        except aws.AwsError as e:
            log.error("rejected (attempt %d), left for the redrive policy %s: %s (%s)", message["receive_count"], context, reason, e)
            try:
                self.sqs.set_visibility(self.queue_url, message["receipt"], 0)
            except aws.AwsError:
                pass
