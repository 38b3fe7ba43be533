"""The outbox: a handler stages its follow-up event in the same transaction
as its effect, and the relay publishes what is staged, oldest first, so an
event is never published for an effect that was rolled back, nor lost for
one that was committed."""

import json

from . import aws, config, envelope

SCHEMA = "CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL, traceparent TEXT NOT NULL);"


def stage(db, event, incoming_traceparent):
    parent = envelope.traceparent(incoming_traceparent, event["correlation_id"])
    db.execute("INSERT INTO outbox VALUES (?, ?, ?)", (event["id"], json.dumps(event), parent))


def count(service):
    with service.db() as db:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]


def relay_once(service, sns):
    """Publishes what is staged; stops at the first failure, tried again next time."""
    with service.db() as db:
        rows = db.execute("SELECT id, body, traceparent FROM outbox ORDER BY rowid").fetchall()
    for event_id, body, parent in rows:
        event = json.loads(body)
        attributes = {"event_type": event["type"], "correlation_id": event["correlation_id"], "traceparent": parent}
        try:
            sns.publish(config.topic_arn(event["type"]), body, attributes)
        except (aws.AwsError, config.MissingSetting) as e:
            service.log.warning("publishing %s failed, tried again shortly: %s", event_id, e)
            return
        with service.db() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (event_id,))
        service.log.info("published %s correlation_id=%s event_id=%s", event["type"], event["correlation_id"], event_id)


def relay_forever(service, every=0.1):
    sns = aws.Sns()
    while not service.stopping.wait(every):
        relay_once(service, sns)
