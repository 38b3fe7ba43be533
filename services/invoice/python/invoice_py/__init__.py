"""invoice, in Python: the reference invoice service rewritten behind the
same manifest and pacts (`fare --profile python`). Issues exactly one
invoice per order placed (once per event id, once per order id), publishes
`invoice.issued`, and answers `GET /invoices?order_id=` to the order's
owner, whose session it asks users to vouch for.

Layout:
- app: the handler, the route, the provider states, the service.
- __main__: `python3 -m invoice_py`.
"""
