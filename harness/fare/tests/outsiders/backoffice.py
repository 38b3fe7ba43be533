"""A `backoffice` tool's consumer test, written with pact-python by an
outsider to the platform: it reads devices' stock, an order's invoice and a
parcel's tracking, each from a provider state, into three V4 pacts. An
invoice and a parcel are a user's data: the tool reads them with the
user's session (a state of the users service the provider asks).

Usage: python backoffice.py PACT_DIR
"""

import json
import sys
import urllib.request

from pact import Pact, match

pact_dir = sys.argv[1]


SESSION = {"Authorization": "Bearer 0a1b2c3d4e5f"}


def check(pact, path, expect, headers=None):
    with pact.serve() as server:
        request = urllib.request.Request(f"{server.url}{path}", headers=headers or {})
        shown = json.load(urllib.request.urlopen(request))
        assert expect(shown), shown
    pact.write_file(pact_dir, overwrite=True)


devices = Pact("backoffice", "devices").with_specification("V4")
(
    devices.upon_receiving("a look at the stock")
    .given("model phone-basic has 2 devices in stock")
    .given("model phone-pro has 3 devices in stock")
    .with_request("GET", "/inventory")
    .will_respond_with(200)
    .with_body(
        [{"model": "phone-basic", "available": 2, "allocated": 0}, {"model": "phone-pro", "available": 3, "allocated": 0}],
        content_type="application/json",
    )
)
check(devices, "/inventory", lambda shown: shown[1]["available"] == 3)

invoice = Pact("backoffice", "invoice").with_specification("V4")
(
    invoice.upon_receiving("the invoice of an order")
    .given("user u-1 has a valid session token 0a1b2c3d4e5f")
    .given("order o-9 of user u-1 was invoiced 19900 cents")
    .with_request("GET", "/invoices")
    .with_query_parameter("order_id", "o-9")
    .with_header("Authorization", SESSION["Authorization"])
    .will_respond_with(200)
    .with_body(
        [{"id": match.str("inv-o-9"), "order_id": "o-9", "user_id": "u-1", "amount_cents": 19900, "currency": match.str("EUR"), "issued_at": match.str("2030-01-01T10:00:00Z")}],
        content_type="application/json",
    )
)
check(invoice, "/invoices?order_id=o-9", lambda shown: shown[0]["amount_cents"] == 19900, SESSION)

tracking = Pact("backoffice", "tracking").with_specification("V4")
(
    tracking.upon_receiving("a delivered parcel")
    .given("user u-1 has a valid session token 0a1b2c3d4e5f")
    .given("parcel TRK-9 of order o-9 of user u-1 is delivered")
    .with_request("GET", "/shipments/TRK-9")
    .with_header("Authorization", SESSION["Authorization"])
    .will_respond_with(200)
    .with_body({"tracking_number": "TRK-9", "order_id": "o-9", "status": "delivered", "delivered_at": match.str("2030-01-02T09:30:00Z")}, content_type="application/json")
)
check(tracking, "/shipments/TRK-9", lambda shown: shown["status"] == "delivered", SESSION)
