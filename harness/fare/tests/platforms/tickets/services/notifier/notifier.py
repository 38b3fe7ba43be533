"""notifier: one notification per ticket opened (a second `ticket.opened`
of the same ticket notifies nobody), then `ticket.answered`; `GET
/notifications?ticket_id=` shows them."""

import uuid

from fare_kit import envelope, outbox
from fare_kit.service import Service

NAME = "notifier"

SCHEMA = outbox.SCHEMA + """
CREATE TABLE IF NOT EXISTS notifications (
    notification_id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL UNIQUE,
    sent_at TEXT NOT NULL
);
"""


def notify(db, event, attributes):
    (ticket_id,) = envelope.require(event, "ticket_id")
    if db.execute("SELECT 1 FROM notifications WHERE ticket_id = ?", (ticket_id,)).fetchone():
        return
    db.execute("INSERT INTO notifications VALUES (?, ?, ?)", (str(uuid.uuid4()), ticket_id, envelope.now_rfc3339()))
    follow = envelope.follow_up(event, "ticket.answered", NAME, {"ticket_id": ticket_id})
    outbox.stage(db, follow, attributes.get("traceparent"))


def notifications(service, request):
    ticket_id = request.query.get("ticket_id", "")
    with service.db() as db:
        rows = db.execute("SELECT notification_id, ticket_id, sent_at FROM notifications WHERE ticket_id = ?",
                          (ticket_id,)).fetchall()
    return 200, [dict(zip(("notification_id", "ticket_id", "sent_at"), r)) for r in rows]


class Notifier(Service):
    def __init__(self):
        super().__init__(NAME, SCHEMA, handlers={"ticket.opened": notify},
                         routes=[("GET", "/notifications", notifications)])

    def outbox(self):
        return outbox.count(self)

    def background(self):
        outbox.relay_forever(self)


if __name__ == "__main__":
    Notifier().serve()
