"""desk: `POST /tickets` opens a requester's ticket and stages `ticket.opened` in the
same transaction (the outbox); `GET /tickets` and `GET /tickets/{id}` show
them; `ticket.answered` marks one answered, once."""

import uuid

from fare_kit import envelope, outbox
from fare_kit.service import HttpError, Service

NAME = "desk"

SCHEMA = outbox.SCHEMA + """
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL
);
"""


def row(r):
    return dict(zip(("ticket_id", "requester", "title", "status", "opened_at"), r))


def open_ticket(service, request):
    body = request.json()
    title, requester = body.get("title"), body.get("requester")
    for field, value in (("title", title), ("requester", requester)):
        if not isinstance(value, str) or not value.strip():
            raise HttpError(400, f"`{field}` is required: a non-empty string")
    correlation_id = request.header("X-Correlation-ID") or str(uuid.uuid4())
    ticket = {"ticket_id": str(uuid.uuid4()), "requester": requester, "title": title, "status": "open", "opened_at": envelope.now_rfc3339()}
    event = {"id": str(uuid.uuid4()), "type": "ticket.opened", "version": 1, "occurred_at": ticket["opened_at"],
             "correlation_id": correlation_id, "causation_id": None, "producer": NAME,
             "data": {"ticket_id": ticket["ticket_id"], "title": title}}
    with service.db() as db:
        db.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, ?)", tuple(ticket.values()))
        outbox.stage(db, event, request.header("traceparent"))
    return 201, ticket


def list_tickets(service, request):
    """Every ticket, or one requester's (`?requester=`)."""
    requester = request.query.get("requester")
    with service.db() as db:
        if requester is None:
            rows = db.execute("SELECT * FROM tickets ORDER BY opened_at")
        else:
            rows = db.execute("SELECT * FROM tickets WHERE requester = ? ORDER BY opened_at", (requester,))
        return 200, [row(r) for r in rows]


def one_ticket(service, request):
    with service.db() as db:
        found = db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (request.params["ticket_id"],)).fetchone()
    if found is None:
        raise HttpError(404, "no such ticket")
    return 200, row(found)


def answered(db, event, attributes):
    (ticket_id,) = envelope.require(event, "ticket_id")
    db.execute("UPDATE tickets SET status = 'answered' WHERE ticket_id = ?", (ticket_id,))


class Desk(Service):
    def __init__(self):
        routes = [("POST", "/tickets", open_ticket), ("GET", "/tickets", list_tickets),
                  ("GET", "/tickets/{ticket_id}", one_ticket)]
        super().__init__(NAME, SCHEMA, handlers={"ticket.answered": answered}, routes=routes)

    def outbox(self):
        return outbox.count(self)

    def background(self):
        outbox.relay_forever(self)


if __name__ == "__main__":
    Desk().serve()
