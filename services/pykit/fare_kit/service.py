"""A service's process: logging, its database, its HTTP server (`/health`,
`/ready`, `/pending` and its own routes), its consumer, and a clean stop on
SIGTERM."""

import base64
import json
import logging
import re
import signal
import sqlite3
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import config, consumer, envelope, identity

SECRET = re.compile(r"(Bearer\s+)\S+|([0-9a-f]{64})|([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")


class Redacting(logging.Formatter):
    """No token, key or email address reaches a log line."""

    def format(self, record):
        return SECRET.sub(lambda m: (m.group(1) or "") + "<redacted>", super().format(record))


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Request:
    def __init__(self, handler, params):
        self.handler = handler
        self.params = params
        split = urllib.parse.urlsplit(handler.path)
        self.path = split.path
        self.query = dict(urllib.parse.parse_qsl(split.query))
        length = int(handler.headers.get("Content-Length") or 0)
        self.body = handler.rfile.read(length) if length else b""

    def header(self, name):
        return self.handler.headers.get(name)

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise HttpError(400, "the body is not JSON") from None

    def bearer(self):
        value = self.header("Authorization") or ""
        return value[7:].strip() if value.startswith("Bearer ") else None


class Service:
    """One service: `routes` are (method, pattern, function(service, request) -> (status, body))."""

    def __init__(self, name, schema, handlers=None, routes=(), states=None, messages=None):
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True)
        for h in logging.getLogger().handlers:
            h.setFormatter(Redacting(f"%(asctime)s %(levelname)s {name}: %(message)s"))
        self.name = name
        self.log = logging.getLogger(name)
        self.database = config.need("DATABASE_PATH", "the file of this service's database")
        db = sqlite3.connect(self.database, timeout=30)
        with db:
            db.executescript(consumer.INBOX + ";\n" + schema)
        db.close()
        self.stopping = threading.Event()
        self.consumer = consumer.Consumer(self.database, handlers, self.stopping) if handlers else None
        self.routes = [(m, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", p) + "$"), f) for m, p, f in routes]
        verifying = config.get("FARE_PROVIDER_STATES") == "on"
        self.states = states if verifying else None
        # Each event type this service publishes -> a function making one, by the service's own code.
        self.messages = (messages or {}) if verifying else None
        if verifying:
            self.log.warning("PROVIDER STATES ARE ON: POST /_pact/state sets up data (contract verification only)")
        self.callers = identity.caller_keys()

    def db(self):
        return sqlite3.connect(self.database, timeout=30)

    def outbox(self):
        """Events staged and not yet published (a service with an outbox says)."""
        return 0

    def background(self):
        """Work beside the consumer (an outbox relay, a poller); none by default."""

    def ready(self):
        if self.consumer is None:
            return None
        try:
            self.consumer.reachable()
            return None
        except Exception as e:
            return f"its queue is not reachable: {e}"

    def answer(self, handler, method):
        try:
            request = Request(handler, {})
            if method == "GET" and request.path == "/health":
                return 200, {"status": "ok"}
            if method == "GET" and request.path == "/ready":
                why = self.ready()
                return (200, {"status": "ready"}) if why is None else (503, {"error": why})
            if method == "GET" and request.path == "/pending":
                handling = self.consumer.handling if self.consumer else 0
                return 200, {"handling": handling, "outbox": self.outbox(), "work": 0, "outbox_dead": 0}
            if method == "POST" and request.path == "/_pact/state" and self.states is not None:
                return self.set_state(request.json())
            if method == "POST" and request.path == "/_pact/messages" and self.messages is not None:
                return self.sample_message(request.json())
            for m, pattern, route in self.routes:
                match = pattern.match(request.path)
                if match and m == method:
                    request.params = match.groupdict()
                    return route(self, request)
            return 404, {"error": f"no route {method} {request.path}"}
        except HttpError as e:
            return e.status, {"error": str(e)}
        except identity.Refused as e:
            return e.status, {"error": str(e)}
        except Exception:
            self.log.exception("%s %s failed", method, handler.path.split("?")[0])
            return 500, {"error": "internal error"}

    def set_state(self, body):
        state, params = body.get("state", ""), body.get("params") or {}
        if body.get("action", "setup") != "setup":
            return 200, {}
        for pattern, setup in self.states.items():
            match = re.fullmatch(pattern, state)
            if match:
                with self.db() as db:
                    setup(db, {**match.groupdict(), **params})
                return 200, {}
        # 422 on `state`: fare then asks the services this one asks, which may know it.
        known = ", ".join(self.states)
        return 422, {"error": f"{self.name} knows no provider state {state!r} (it knows: {known})", "field": "state"}

    def sample_message(self, body):
        """Pact's `message` transport: the event a description names (`a <type> event`), as this
        service's own code makes it, and the attributes it publishes it with in `Pact-Message-Metadata`."""
        description = str(body.get("description", ""))
        event_type = description[2:-6] if description.startswith("a ") and description.endswith(" event") else description
        make = self.messages.get(event_type)
        if make is None:
            known = ", ".join(f"`a {t} event`" for t in self.messages) or "none"
            return 422, {"error": f"{self.name} publishes no `{event_type}`; its messages are {known}", "field": "description"}
        event = make()
        metadata = {"contentType": "application/json", "event_type": event["type"],
                    "correlation_id": event["correlation_id"],
                    "traceparent": envelope.traceparent(None, event["correlation_id"])}
        header = base64.b64encode(json.dumps(metadata).encode()).decode()
        return 200, event, {"Pact-Message-Metadata": header}

    def serve(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, method):
                status, body, *extra = service.answer(self, method)
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if self.path not in ("/health", "/ready", "/pending"):
                    cid = self.headers.get("X-Correlation-ID", "-")
                    service.log.info("%s %s answered %d correlation_id=%s", method, self.path.split("?")[0], status, cid)

            def do_GET(self):
                self.reply("GET")

            def do_POST(self):
                self.reply("POST")

        host, port = config.get("HOST", "127.0.0.1"), int(config.need("PORT", "the port to listen on"))
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.log.info("listening on http://%s:%d", host, port)
        if self.consumer:
            threading.Thread(target=self.consumer.run, daemon=True).start()
        threading.Thread(target=self.background, daemon=True).start()
        self.stopping.wait()
        server.shutdown()
        self.log.info("stopped")
