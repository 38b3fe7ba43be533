"""loyalty's pacts, written with pact-python (its language's Pact library):

- as a consumer of users (HTTP): the session check it makes for GET /points;
- as a consumer of invoice (a message): the `invoice.issued` it awards points for,
  handled by loyalty's own handler;
- as a provider: what the shop's `web` frontend relies on of GET /points.

Each interaction is exercised through loyalty's own code (fare_kit's session
check against pact's mock users; the handler on the message) before the pact
is written. Usage: python pacts.py PACT_DIR
"""

import json
import os
import sqlite3
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "..", "pykit")]

from pact import Pact, match  # noqa: E402

from fare_kit import envelope, identity  # noqa: E402
from loyalty import app  # noqa: E402

pact_dir = sys.argv[1]
ID = r"^[A-Za-z0-9._:-]{1,128}$"
TOKEN = "0a1b2c3d4e5f"

# loyalty -> users: whose session is this?
users = Pact("loyalty", "users").with_specification("V4")
(
    users.upon_receiving("a session check for a valid token")
    .given(f"user u-1 has a valid session token {TOKEN}")
    .with_request("GET", "/sessions/current")
    .with_header("Authorization", f"Bearer {TOKEN}")
    .will_respond_with(200)
    .with_body({"user_id": match.regex("u-1", regex=ID), "expires_at": match.str("2030-01-01T13:00:00Z")},
               content_type="application/json")
)
(
    users.upon_receiving("a session check for a token users does not know")
    .given("no session has the token ffffffffffff")
    .with_request("GET", "/sessions/current")
    .with_header("Authorization", "Bearer ffffffffffff")
    .will_respond_with(401)
    .with_body({"error": match.str("unknown session")}, content_type="application/json")
)
with users.serve() as server:
    os.environ.update({"USERS_URL": str(server.url).rstrip("/"), "FARE_SERVICE_KEY": "11" * 32})
    assert identity.session_user(TOKEN, "loyalty") == "u-1"
    try:
        identity.session_user("ffffffffffff", "loyalty")
        raise AssertionError("users refused the token, loyalty did not")
    except identity.Refused as refused:
        assert refused.status == 401, refused.status
users.write_file(pact_dir, overwrite=True)

# invoice -> loyalty: the event it awards points for.
invoice = Pact("loyalty", "invoice").with_specification("V4")
(
    invoice.upon_receiving("a invoice.issued event", "Async")
    .with_body(
        {
            "id": match.uuid("3f2a6c1e-8a5b-4c1d-9e7f-0a1b2c3d4e5f"),
            "type": "invoice.issued",
            "version": match.int(1),
            "occurred_at": match.str("2030-01-01T12:00:00Z"),
            "correlation_id": match.regex("c-1", regex=ID),
            "causation_id": match.str("3f2a6c1e-0000-4c1d-9e7f-0a1b2c3d4e5f"),
            "producer": "invoice",
            "data": {
                "id": match.regex("i-1", regex=ID),
                "order_id": match.regex("o-1", regex=ID),
                "user_id": match.regex("u-1", regex=ID),
                "amount_cents": match.int(19900),
                "currency": match.regex("EUR", regex=r"^[A-Z]{3}$"),
            },
        },
        content_type="application/json",
    )
    .with_metadata({"event_type": "invoice.issued"})
)


def handle(body, metadata):
    db = sqlite3.connect(":memory:")
    db.executescript(app.SCHEMA)
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    follow = app.award(db, envelope.parse(text), {"traceparent": metadata.get("traceparent")})
    assert follow["data"]["points"] == 199, follow


invoice.verify(handle, "Async")
invoice.write_file(pact_dir, overwrite=True)

# web -> loyalty: a signed-in user's points, as the shop's frontend shows them.
web = Pact("web", "loyalty").with_specification("V4")
(
    web.upon_receiving("the signed-in user's loyalty points")
    .given(f"user u-1 has a valid session token {TOKEN}")
    .given("user u-1 has 120 loyalty points")
    .with_request("GET", "/points")
    .with_header("Authorization", f"Bearer {TOKEN}")
    .will_respond_with(200)
    .with_body(
        {
            "user_id": "u-1",
            "balance": 120,
            "awards": match.each_like(
                {"award_id": match.str("a-1"), "order_id": match.str("o-1"), "invoice_id": match.str("i-1"),
                 "points": match.int(120), "awarded_at": match.str("2030-01-01T10:00:00.000000Z")}
            ),
        },
        content_type="application/json",
    )
)
(
    web.upon_receiving("points asked for without a session")
    .with_request("GET", "/points")
    .will_respond_with(401)
    .with_body({"error": match.str("missing bearer token")}, content_type="application/json")
)
with web.serve() as server:
    request = urllib.request.Request(f"{server.url}/points", headers={"Authorization": f"Bearer {TOKEN}"})
    assert json.load(urllib.request.urlopen(request))["balance"] == 120
    try:
        urllib.request.urlopen(f"{server.url}/points")
        raise AssertionError("no session, and yet points")
    except urllib.error.HTTPError as e:
        assert e.code == 401, e.code
web.write_file(pact_dir, overwrite=True)
