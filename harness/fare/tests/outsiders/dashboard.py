"""The `dashboard` frontend's consumer test, written with pact-python as an
outsider to the platform would write it: it asks store for one of the
signed-in user's orders and records what it relies on in a V4 pact.

Usage: python dashboard.py PACT_DIR [STATE]
STATE replaces the order's provider state (a test names one store does not know).
"""

import json
import sys
import urllib.request

from pact import Pact, match

pact_dir = sys.argv[1]
order_state = sys.argv[2] if len(sys.argv) > 2 else "user u-1 has order o-1 in status delivered"

pact = Pact("dashboard", "store").with_specification("V4")
order = {
    "order_id": "o-1",
    "user_id": "u-1",
    "model": match.str("phone-basic"),
    "price_cents": match.int(19900),
    "currency": match.regex("EUR", regex=r"^[A-Z]{3}$"),
    "status": "delivered",
    "tracking_number": match.str("TRK-0001"),
    "shipping_address": match.like(
        {"name": "Ada Lovelace", "line1": "1 Analytical Road", "city": "London", "postal_code": "N1 1AA", "country": "GB"}
    ),
    "placed_at": match.regex("2030-01-01T10:00:00Z", regex=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"),
    "timeline": match.each_like(
        {"event_type": match.str("order.placed"), "event_id": match.str("e-1"), "occurred_at": match.str("2030-01-01T10:00:00Z")}
    ),
}
(
    pact.upon_receiving("a request for one of the signed-in user's orders")
    .given("user u-1 has a valid session token 0a1b2c3d4e5f")
    .given(order_state)
    .with_request("GET", "/orders/o-1")
    .with_header("Authorization", "Bearer 0a1b2c3d4e5f")
    .will_respond_with(200)
    .with_body(order, content_type="application/json")
)
with pact.serve() as server:
    request = urllib.request.Request(f"{server.url}/orders/o-1", headers={"Authorization": "Bearer 0a1b2c3d4e5f"})
    shown = json.load(urllib.request.urlopen(request))
    assert shown["status"] == "delivered", shown
pact.write_file(pact_dir, overwrite=True)
