"""invoice's handler, route and provider states, as the Rust invoice has them."""

import sqlite3
import uuid

from fare_kit import envelope, identity, outbox
from fare_kit.service import HttpError, Service

NAME = "invoice"

SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    issued_at TEXT NOT NULL
);
""" + outbox.SCHEMA

FIELDS = ("id", "order_id", "user_id", "amount_cents", "currency", "issued_at")


def issue(db, event, attributes):
    """One invoice per order: a second `order.placed` of the same order issues none."""
    if event["type"] != "order.placed":
        raise envelope.BadEnvelope(f"invoice does not handle {event['type']}")
    order_id, user_id, price, currency = envelope.require(event, "order_id", "user_id", "price_cents", "currency")
    if not isinstance(price, int) or isinstance(price, bool):
        raise envelope.BadEnvelope(f"price_cents of order {order_id} is not a whole number of cents")
    invoice = dict(zip(FIELDS, (str(uuid.uuid4()), order_id, user_id, price, currency, event["occurred_at"])))
    inserted = db.execute(
        "INSERT OR IGNORE INTO invoices (id, order_id, user_id, amount_cents, currency, issued_at) VALUES (?, ?, ?, ?, ?, ?)",
        tuple(invoice[f] for f in FIELDS),
    ).rowcount
    if inserted != 1:
        return None
    issued = envelope.follow_up(event, "invoice.issued", NAME, invoice)
    outbox.stage(db, issued, attributes.get("traceparent"))
    return issued


def invoices(service, request):
    order_id = request.query.get("order_id")
    if not order_id:
        raise HttpError(400, "order_id: the query parameter is required")
    user_id = identity.session_user(request.bearer(), NAME)
    with service.db() as db:
        row = db.execute(f"SELECT {', '.join(FIELDS)} FROM invoices WHERE order_id = ?", (order_id,)).fetchone()
    found = [dict(zip(FIELDS, row))] if row else []
    # Another user's invoice is answered as none at all.
    return 200, [i for i in found if i["user_id"] == user_id]


def state_invoiced(db, params):
    try:
        amount = int(params["amount_cents"])
    except (KeyError, ValueError):
        raise HttpError(400, "amount_cents: expected a whole number of cents") from None
    db.execute("DELETE FROM invoices WHERE order_id = ?", (params["order_id"],))
    db.execute(
        "INSERT INTO invoices (id, order_id, user_id, amount_cents, currency, issued_at) "
        "VALUES (?, ?, ?, ?, 'EUR', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        (f"inv-{params['order_id']}", params["order_id"], params["user_id"], amount),
    )


def state_none(db, params):
    db.execute("DELETE FROM invoices")


STATES = {
    r"order (?P<order_id>\S+) of user (?P<user_id>\S+) was invoiced (?P<amount_cents>\S+) cents": state_invoiced,
    r"no invoice was issued": state_none,
}


def sample_invoice_issued():
    """`invoice.issued` as the handler stages it, for a sample `order.placed`, in a scratch database."""
    order = {"id": "3f2a6c1e-0000-4c1d-9e7f-0a1b2c3d4e5f", "type": "order.placed", "version": 1,
             "occurred_at": "2030-01-01T12:00:00.000000Z", "correlation_id": "contract-verification",
             "causation_id": "request-1", "producer": "store",
             "data": {"order_id": "o-1", "user_id": "u-1", "model": "phone-basic", "price_cents": 19900,
                      "currency": "EUR"}}
    db = sqlite3.connect(":memory:")
    with db:
        db.executescript(SCHEMA)
        issued = issue(db, order, {})
    db.close()
    return issued


# What it publishes, made by its own handler, for Pact's message transport.
MESSAGES = {"invoice.issued": sample_invoice_issued}


class Invoice(Service):
    def __init__(self):
        super().__init__(NAME, SCHEMA, handlers={"order.placed": issue}, routes=[("GET", "/invoices", invoices)],
                         states=STATES, messages=MESSAGES)

    def outbox(self):
        return outbox.count(self)

    def background(self):
        outbox.relay_forever(self)


def main():
    Invoice().serve()
