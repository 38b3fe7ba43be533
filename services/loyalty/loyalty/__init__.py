"""loyalty: awards loyalty points for every invoice issued.

Listens to `invoice.issued`, awards one point per whole unit of the amount
once per invoice, publishes `points.awarded`, and answers `GET /points` to
the signed-in user (users vouches for the session). Python, standard
library only, on the platform's shared fare_kit.

Layout:
- app: the handler, the routes, the provider states, the service.
- __main__: `python3 -m loyalty`.
"""
