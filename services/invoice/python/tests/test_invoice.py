"""The Python invoice's handler and route, without an emulator: one invoice
per order however often it is heard, what it cannot read refused, an
invoice answered to its owner only, as the Rust invoice does."""

import os
import sqlite3
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "..", "..", "pykit")]

from fare_kit import envelope, identity  # noqa: E402
from fare_kit.service import HttpError  # noqa: E402
from invoice_py import app  # noqa: E402


def order_placed(event_id="3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f", order_id="o-1", price=19900):
    return {"id": event_id, "type": "order.placed", "version": 1, "occurred_at": "2030-01-01T12:00:00.000000001Z",
            "correlation_id": "c-1", "causation_id": None, "producer": "store",
            "data": {"order_id": order_id, "user_id": "u-1", "price_cents": price, "currency": "EUR", "model": "phone-basic"}}


class Issue(unittest.TestCase):
    def setUp(self):
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(app.SCHEMA)

    def test_one_invoice_per_order_issued_at_the_orders_time(self):
        issued = app.issue(self.db, order_placed(), {})
        self.assertEqual(issued["type"], "invoice.issued")
        self.assertEqual({k: issued["data"][k] for k in ("order_id", "user_id", "amount_cents", "currency", "issued_at")},
                         {"order_id": "o-1", "user_id": "u-1", "amount_cents": 19900, "currency": "EUR",
                          "issued_at": "2030-01-01T12:00:00.000000001Z"})
        again = order_placed(event_id="4f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f")
        self.assertIsNone(app.issue(self.db, again, {}), "another event of the same order issues no second invoice")
        self.assertEqual(self.db.execute("SELECT count(*) FROM invoices").fetchone()[0], 1)
        self.assertEqual(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0], 1)

    def test_what_it_cannot_read_is_refused(self):
        for bad in (dict(order_placed(), type="order.cancelled"), order_placed(price="free")):
            with self.assertRaises(envelope.BadEnvelope):
                app.issue(self.db, bad, {})


class Route(unittest.TestCase):
    def test_an_invoice_is_answered_to_its_owner_only(self):
        os.environ.update({"DATABASE_PATH": os.path.join(tempfile.mkdtemp(), "i.sqlite"), "FARE_QUEUE_URL": "http://127.0.0.1:9/q"})
        service = app.Invoice()
        with service.db() as db:
            app.state_invoiced(db, {"order_id": "o-9", "user_id": "u-1", "amount_cents": "19900"})
        real = identity.session_user
        request = type("R", (), {"bearer": lambda self: "t", "query": {"order_id": "o-9"}})()
        try:
            for user, found in (("u-1", 1), ("u-2", 0)):
                identity.session_user = lambda bearer, _, user=user: user
                status, body = app.invoices(service, request)
                self.assertEqual((status, len(body)), (200, found))
            request.query = {}
            with self.assertRaises(HttpError) as refused:
                app.invoices(service, request)
            self.assertEqual(refused.exception.status, 400)
        finally:
            identity.session_user = real


if __name__ == "__main__":
    unittest.main()


class Messages(unittest.TestCase):
    def test_its_sample_invoice_issued_is_made_by_its_own_handler(self):
        issued = app.MESSAGES["invoice.issued"]()
        self.assertEqual((issued["type"], issued["producer"]), ("invoice.issued", "invoice"))
        self.assertEqual(issued["data"]["amount_cents"], 19900)
        envelope.parse(__import__("json").dumps(issued))
