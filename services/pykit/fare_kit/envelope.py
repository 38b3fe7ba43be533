"""The envelope every event travels in (services/CATALOG.md): parsed so that
a body that is not one is refused with the field that did not fit."""

import datetime
import json
import re
import secrets
import uuid

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class BadEnvelope(Exception):
    pass


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(body):
    try:
        event = json.loads(body)
    except ValueError as e:
        raise BadEnvelope(f"the message body is not JSON: {e}") from None
    if not isinstance(event, dict):
        raise BadEnvelope("the message body is not an event envelope: not an object")
    for field, kind in (("id", str), ("type", str), ("version", int), ("occurred_at", str),
                        ("correlation_id", str), ("producer", str), ("data", dict)):
        if not isinstance(event.get(field), kind):
            raise BadEnvelope(f"the message body is not an event envelope: at `{field}`: expected {kind.__name__}")
    try:
        uuid.UUID(event["id"])
    except ValueError:
        raise BadEnvelope("the message body is not an event envelope: at `id`: not a UUID") from None
    if not EVENT_TYPE.match(event["type"]):
        raise BadEnvelope(f"the message body is not an event envelope: at `type`: {event['type']!r} is not an event type")
    return event


def require(event, *fields):
    """The data's `fields`, each present: a missing one makes the event unusable."""
    data = event["data"]
    missing = [f for f in fields if data.get(f) is None]
    if missing:
        raise BadEnvelope(f"the data of {event['type']} {event['id']} lacks {', '.join(missing)}")
    return [data[f] for f in fields]


def follow_up(cause, event_type, producer, data):
    """A new event caused by `cause`: same chain, `causation_id` its id."""
    return {
        "id": str(uuid.uuid4()), "type": event_type, "version": 1, "occurred_at": now_rfc3339(),
        "correlation_id": cause["correlation_id"], "causation_id": cause["id"], "producer": producer, "data": data,
    }


def traceparent(incoming, correlation_id):
    """A W3C traceparent for the next hop: the incoming trace, a new span."""
    match = re.match(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$", incoming or "")
    if match:
        return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(2)}"
    trace = uuid.uuid5(uuid.NAMESPACE_URL, correlation_id).hex
    return f"00-{trace}-{secrets.token_hex(8)}-01"
