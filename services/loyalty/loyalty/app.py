"""loyalty's handler, routes and provider states."""

import sqlite3
import uuid

from fare_kit import envelope, identity, outbox
from fare_kit.service import Service

NAME = "loyalty"

SCHEMA = outbox.SCHEMA + """
CREATE TABLE IF NOT EXISTS awards (
    award_id TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    points INTEGER NOT NULL,
    awarded_at TEXT NOT NULL
);
"""


def balance(db, user_id):
    return db.execute("SELECT coalesce(sum(points), 0) FROM awards WHERE user_id = ?", (user_id,)).fetchone()[0]


def award(db, event, attributes):
    """One award per invoice: a second `invoice.issued` of the same invoice awards nothing."""
    invoice_id, order_id, user_id, amount = envelope.require(event, "id", "order_id", "user_id", "amount_cents")
    if not isinstance(amount, int) or amount < 0:
        raise envelope.BadEnvelope(f"amount_cents of invoice {invoice_id} is not a whole number of cents")
    if db.execute("SELECT 1 FROM awards WHERE invoice_id = ?", (invoice_id,)).fetchone():
        return None
    award_id, points = str(uuid.uuid4()), amount // 100
    db.execute("INSERT INTO awards VALUES (?, ?, ?, ?, ?, ?)",
               (award_id, invoice_id, order_id, user_id, points, envelope.now_rfc3339()))
    data = {"award_id": award_id, "user_id": user_id, "order_id": order_id, "invoice_id": invoice_id,
            "points": points, "balance": balance(db, user_id)}
    follow = envelope.follow_up(event, "points.awarded", NAME, data)
    outbox.stage(db, follow, attributes.get("traceparent"))
    return follow


def points(service, request):
    user_id = identity.session_user(request.bearer(), NAME)
    with service.db() as db:
        rows = db.execute(
            "SELECT award_id, order_id, invoice_id, points, awarded_at FROM awards WHERE user_id = ? ORDER BY awarded_at",
            (user_id,)).fetchall()
        total = balance(db, user_id)
    awards = [dict(zip(("award_id", "order_id", "invoice_id", "points", "awarded_at"), r)) for r in rows]
    return 200, {"user_id": user_id, "balance": total, "awards": awards}


def state_points(db, params):
    db.execute("DELETE FROM awards WHERE user_id = ?", (params["user_id"],))
    db.execute("INSERT INTO awards VALUES (?, ?, ?, ?, ?, ?)", (
        str(uuid.uuid4()), f"i-{uuid.uuid4()}", "o-1", params["user_id"], int(params["points"]), "2030-01-01T10:00:00.000000Z"))


def state_none(db, params):
    db.execute("DELETE FROM awards WHERE user_id = ?", (params["user_id"],))


STATES = {
    r"user (?P<user_id>\S+) has (?P<points>\d+) loyalty points": state_points,
    r"user (?P<user_id>\S+) has no loyalty points": state_none,
}


def sample_points_awarded():
    """`points.awarded` as the handler stages it, for a sample `invoice.issued`, in a scratch database."""
    invoice = {"id": "5d1c7a2e-0000-4b6f-8e3a-0a1b2c3d4e5f", "type": "invoice.issued", "version": 1,
               "occurred_at": "2030-01-01T12:00:01.000000Z", "correlation_id": "contract-verification",
               "causation_id": "3f2a6c1e-0000-4c1d-9e7f-0a1b2c3d4e5f", "producer": "invoice",
               "data": {"id": "i-1", "order_id": "o-1", "user_id": "u-1", "amount_cents": 19900, "currency": "EUR",
                        "issued_at": "2030-01-01T12:00:00.000000Z"}}
    db = sqlite3.connect(":memory:")
    with db:
        db.executescript(SCHEMA)
        awarded = award(db, invoice, {})
    db.close()
    return awarded


# What it publishes, made by its own handler, for Pact's message transport.
MESSAGES = {"points.awarded": sample_points_awarded}


class Loyalty(Service):
    def __init__(self):
        super().__init__(NAME, SCHEMA, handlers={"invoice.issued": award}, routes=[("GET", "/points", points)],
                         states=STATES, messages=MESSAGES)

    def outbox(self):
        return outbox.count(self)

    def background(self):
        outbox.relay_forever(self)


def main():
    Loyalty().serve()
