"""loyalty's handler and route, without an emulator: one award per invoice
however often it is heard, an invoice missing its amount refused, points
shown to their owner's session only."""

import json
import os
import sqlite3
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "..", "pykit")]

from fare_kit import envelope, identity  # noqa: E402
from loyalty import app  # noqa: E402


def invoice_issued(invoice_id="i-1", amount=19900):
    return {"id": "3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f", "type": "invoice.issued", "version": 1,
            "occurred_at": "2030-01-01T10:00:00Z", "correlation_id": "c-1", "causation_id": "e-0", "producer": "invoice",
            "data": {"id": invoice_id, "order_id": "o-1", "user_id": "u-1", "amount_cents": amount, "currency": "EUR"}}


class Awards(unittest.TestCase):
    def setUp(self):
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(app.SCHEMA)

    def test_one_award_per_invoice_and_its_follow_up_is_staged(self):
        follow = app.award(self.db, invoice_issued(), {"traceparent": None})
        self.assertEqual((follow["type"], follow["data"]["points"], follow["data"]["balance"]), ("points.awarded", 199, 199))
        self.assertEqual(follow["causation_id"], invoice_issued()["id"])
        self.assertIsNone(app.award(self.db, invoice_issued(), {}), "the same invoice again awards nothing")
        app.award(self.db, invoice_issued("i-2", 150), {})
        self.assertEqual(app.balance(self.db, "u-1"), 200)
        staged = [json.loads(b) for (b,) in self.db.execute("SELECT body FROM outbox")]
        self.assertEqual([e["data"]["points"] for e in staged], [199, 1])

    def test_an_invoice_without_its_amount_is_refused(self):
        bad = invoice_issued()
        del bad["data"]["amount_cents"]
        with self.assertRaises(envelope.BadEnvelope):
            app.award(self.db, bad, {})
        bad["data"]["amount_cents"] = "a lot"
        with self.assertRaises(envelope.BadEnvelope):
            app.award(self.db, bad, {})


class Route(unittest.TestCase):
    def test_points_are_answered_to_the_sessions_user(self):
        folder = tempfile.mkdtemp()
        os.environ.update({"DATABASE_PATH": os.path.join(folder, "l.sqlite"), "FARE_QUEUE_URL": "http://127.0.0.1:9/q"})
        service = app.Loyalty()
        with service.db() as db:
            app.state_points(db, {"user_id": "u-1", "points": 40})
            app.state_points(db, {"user_id": "u-2", "points": 7})
        asked = []
        identity.session_user, real = (lambda bearer, _: asked.append(bearer) or "u-1"), identity.session_user
        try:
            request = type("R", (), {"bearer": lambda self: "t"})()
            status, body = app.points(service, request)
        finally:
            identity.session_user = real
        self.assertEqual((status, body["user_id"], body["balance"], len(body["awards"])), (200, "u-1", 40, 1))
        self.assertEqual(asked, ["t"])


if __name__ == "__main__":
    unittest.main()


class Messages(unittest.TestCase):
    def test_its_sample_points_awarded_is_made_by_its_own_handler(self):
        awarded = app.MESSAGES["points.awarded"]()
        self.assertEqual((awarded["type"], awarded["producer"]), ("points.awarded", "loyalty"))
        self.assertEqual((awarded["data"]["points"], awarded["data"]["balance"]), (199, 199))
