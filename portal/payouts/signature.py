"""The payment gateway's webhook signature (the HMAC scheme of ``/api/v1/gateway/payouts``).

Pure rules: no Flask, no database. Its body is read with ``portal.core.jsonbody``.
"""
import hashlib
import hmac


def sign(secret, timestamp, body):
    """The gateway's signature: HMAC-SHA256 over ``<timestamp>.<raw body>``, hex."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secret, timestamp, signature, body, now_epoch, tolerance_seconds):
    """Why a webhook must be refused ('stale', 'bad_signature'), or None when it is genuine."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return "stale"
    if abs(now_epoch - sent_at) > tolerance_seconds:
        return "stale"
    expected = sign(secret, sent_at, body)
    given = (signature or "").removeprefix("sha256=")
    # compare_digest: the time taken does not tell an attacker how much of a guess was right.
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        return "bad_signature"
    return None
