"""Service identity, as the Rust kit speaks it (services/CATALOG.md): a call
to another service carries `X-Service-Token: v1.<caller>.<audience>.<expires>.<HMAC>`
signed with the caller's key; a callee verifies the callers it grants."""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

from . import config

HEADER = "X-Service-Token"
TTL = 60
MAX_TTL = 300


def _mac(key_hex, caller, audience, expires):
    text = f"fare-service-token v1|{caller}|{audience}|{expires}"
    return hmac.new(bytes.fromhex(key_hex), text.encode(), hashlib.sha256).hexdigest()


def token(caller, key_hex, audience, now=None):
    expires = int(now if now is not None else time.time()) + TTL
    return f"v1.{caller}.{audience}.{expires}.{_mac(key_hex, caller, audience, expires)}"


def verify(token_text, service, callers, now=None):
    """The caller `token_text` proves, or None."""
    parts = (token_text or "").strip().split(".")
    if len(parts) != 5 or parts[0] != "v1":
        return None
    _, caller, audience, expires, presented = parts
    key = callers.get(caller)
    if key is None or not expires.isdigit() or audience != service:
        return None
    if not hmac.compare_digest(_mac(key, caller, audience, int(expires)), presented):
        return None
    now = int(now if now is not None else time.time())
    if int(expires) < now or int(expires) - now > MAX_TTL:
        return None
    return caller


def caller_keys():
    """`FARE_CALLER_KEYS` (`store:<hex>,mailer:<hex>`) as a dict."""
    pairs = [p.split(":", 1) for p in (config.get("FARE_CALLER_KEYS", "") or "").split(",") if ":" in p]
    return {name: key for name, key in pairs}


class Refused(Exception):
    """The session is no live one (401), or users could not say."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def session_user(bearer, service):
    """The user whose session `bearer` is, as users vouches (`GET /sessions/current`)."""
    if not bearer:
        raise Refused(401, "missing bearer token: send `Authorization: Bearer <token>` from `POST /sessions` at users")
    users = config.need("USERS_URL", "the base URL of users, which vouches for sessions")
    key = config.need("FARE_SERVICE_KEY", "this service's key, which signs its calls")
    request = urllib.request.Request(f"{users}/sessions/current", headers={
        "Authorization": f"Bearer {bearer}", HEADER: token(service, key, "users"),
    })
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)["user_id"]
    except urllib.error.HTTPError as e:
        if e.code == 401:
            # users' own words: unknown session, session expired.
            try:
                said = json.loads(e.read()).get("error")
            except ValueError:
                said = None
            raise Refused(401, said or "users does not vouch for this session token") from None
        raise Refused(500, "internal error") from None
    except (urllib.error.URLError, OSError):
        raise Refused(503, "sessions cannot be checked right now; try again shortly") from None
    except (ValueError, KeyError):
        raise Refused(500, "internal error") from None
