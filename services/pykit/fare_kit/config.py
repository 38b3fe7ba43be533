"""The settings fare hands every service, by one convention (docs/services.md)."""

import os
import re


class MissingSetting(Exception):
    pass


def get(name, default=None):
    value = os.environ.get(name, "")
    return value if value else default


def need(name, what):
    value = get(name)
    if value is None:
        raise MissingSetting(f"{name} is not set: {what} (fare up sets it)")
    return value


def topic_var(event_type):
    """`points.awarded` -> `FARE_TOPIC_ARN_POINTS_AWARDED`."""
    return "FARE_TOPIC_ARN_" + re.sub(r"[^A-Za-z0-9]", "_", event_type).upper()


def topic_arn(event_type):
    return need(topic_var(event_type), f"the ARN of the topic {event_type} is published to")
