"""fare_kit's pieces, without an emulator: Signature V4 against AWS's own
test vector, the envelope's refusals, identity tokens both ways, the
session check against a users stand-in, and redaction."""

import datetime
import json
import logging
import os
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from fare_kit import aws, envelope, identity  # noqa: E402
from fare_kit.service import Redacting  # noqa: E402


class SignatureV4(unittest.TestCase):
    def test_aws_get_vanilla_vector(self):
        # aws-sig-v4-test-suite "get-vanilla".
        now = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.timezone.utc)
        _, auth = aws.signature_v4("GET", "https://example.amazonaws.com/", {}, b"", "us-east-1", "service",
                                   "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", now)
        self.assertEqual(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                               "SignedHeaders=host;x-amz-date, "
                               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")


class Envelope(unittest.TestCase):
    good = {"id": "3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f", "type": "invoice.issued", "version": 1,
            "occurred_at": "2030-01-01T10:00:00Z", "correlation_id": "c-1", "causation_id": None,
            "producer": "invoice", "data": {"id": "i-1"}}

    def test_a_good_envelope_parses_and_a_follow_up_keeps_its_chain(self):
        event = envelope.parse(json.dumps(self.good))
        follow = envelope.follow_up(event, "points.awarded", "loyalty", {"points": 1})
        self.assertEqual((follow["correlation_id"], follow["causation_id"]), ("c-1", self.good["id"]))

    def test_what_is_not_an_envelope_is_refused_with_the_field(self):
        for body, says in [("{", "not JSON"), ("[]", "not an object"),
                           (json.dumps({**self.good, "type": "Invoice"}), "`type`"),
                           (json.dumps({**self.good, "id": "nope"}), "`id`"),
                           (json.dumps({k: v for k, v in self.good.items() if k != "data"}), "`data`")]:
            with self.assertRaises(envelope.BadEnvelope) as refused:
                envelope.parse(body)
            self.assertIn(says, str(refused.exception))
        with self.assertRaises(envelope.BadEnvelope):
            envelope.require(envelope.parse(json.dumps(self.good)), "id", "order_id")

    def test_a_traceparent_continues_the_incoming_trace(self):
        incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        out = envelope.traceparent(incoming, "c-1")
        self.assertTrue(out.startswith("00-0af7651916cd43dd8448eb211c80319c-") and out != incoming, out)
        self.assertEqual(len(envelope.traceparent(None, "c-1")), 55)


KEY = "11" * 32


class Identity(unittest.TestCase):
    def test_a_token_verifies_for_its_audience_and_key_only(self):
        t = identity.token("loyalty", KEY, "users", now=1_800_000_000)
        self.assertEqual(identity.verify(t, "users", {"loyalty": KEY}, now=1_800_000_010), "loyalty")
        self.assertIsNone(identity.verify(t, "store", {"loyalty": KEY}, now=1_800_000_010))
        self.assertIsNone(identity.verify(t, "users", {"loyalty": "22" * 32}, now=1_800_000_010))
        self.assertIsNone(identity.verify(t, "users", {"loyalty": KEY}, now=1_800_000_100), "expired")
        self.assertIsNone(identity.verify(t.replace("v1.", "v2.", 1), "users", {"loyalty": KEY}))

    def test_the_session_check_asks_users_with_a_signed_identity(self):
        seen = {}

        class Users(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                seen["token"] = self.headers.get(identity.HEADER)
                ok = self.headers.get("Authorization") == "Bearer good"
                body = json.dumps({"user_id": "u-1"} if ok else {"error": "no"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = HTTPServer(("127.0.0.1", 0), Users)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        os.environ.update({"USERS_URL": f"http://127.0.0.1:{server.server_port}", "FARE_SERVICE_KEY": KEY})
        try:
            self.assertEqual(identity.session_user("good", "loyalty"), "u-1")
            self.assertEqual(identity.verify(seen["token"], "users", {"loyalty": KEY}), "loyalty")
            for bearer in ("bad", None):
                with self.assertRaises(identity.Refused) as refused:
                    identity.session_user(bearer, "loyalty")
                self.assertEqual(refused.exception.status, 401)
        finally:
            server.shutdown()


class Redaction(unittest.TestCase):
    def test_tokens_keys_and_addresses_never_reach_a_line(self):
        record = logging.LogRecord("x", logging.INFO, "", 0, "Bearer abc.def %s ada@example.com", (KEY,), None)
        line = Redacting("%(message)s").format(record)
        self.assertEqual(line, "Bearer <redacted> <redacted> <redacted>")


if __name__ == "__main__":
    unittest.main()
