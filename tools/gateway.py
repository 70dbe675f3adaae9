#!/usr/bin/env python3
"""Play the payment gateway against a running portal: send signed payout results to its webhook.

    python tools/gateway.py --url http://127.0.0.1:8000 --secret "$GATEWAY_WEBHOOK_SECRET" \\
        succeed PO-12-1 --bank-reference CMB2026112600001 --amount-fen 100000
    python tools/gateway.py ... fail PO-12-1 --code ACCOUNT_CLOSED
    python tools/gateway.py ... succeed PO-12-1 --replay        # send the same event twice
    python tools/gateway.py ... succeed PO-12-1 --stale         # a timestamp 10 minutes old

The payout reference (PO-<request>-<attempt>) is shown on the desk's request page once finance
starts the payout. Standard library only, so it runs anywhere.
"""
import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def signed_request(url, secret, payload, timestamp):
    """A POST with the body signed as the portal expects: HMAC-SHA256 over '<timestamp>.<body>'."""
    body = json.dumps(payload).encode("utf-8")
    signature = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-Gateway-Timestamp": str(timestamp),
        "X-Gateway-Signature": "sha256=" + signature.hexdigest(),
    })


def send(request):
    """Send one request; returns (status, body text)."""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def main(argv=None):
    """Parse the command line and send the event(s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the portal's base URL")
    parser.add_argument("--secret", required=True, help="GATEWAY_WEBHOOK_SECRET of the portal")
    parser.add_argument("outcome", choices=["succeed", "fail"])
    parser.add_argument("reference", help="the payout reference, e.g. PO-12-1")
    parser.add_argument("--bank-reference", default=None)
    parser.add_argument("--amount-fen", type=int, default=None, help="defaults to the attempt's amount")
    parser.add_argument("--code", default="PAYOUT_OTHER", help="failure code for 'fail'")
    parser.add_argument("--event-id", default=None, help="defaults to a new random id")
    parser.add_argument("--replay", action="store_true", help="send the same event a second time")
    parser.add_argument("--stale", action="store_true", help="sign with a timestamp 10 minutes old")
    args = parser.parse_args(argv)

    payload = {"event_id": args.event_id or "evt_" + uuid.uuid4().hex,
               "type": "payout.succeeded" if args.outcome == "succeed" else "payout.failed",
               "payout_reference": args.reference}
    if args.outcome == "succeed":
        payload["bank_reference"] = args.bank_reference or "GW" + uuid.uuid4().hex[:12].upper()
        if args.amount_fen is not None:
            payload["amount_fen"] = args.amount_fen
    else:
        payload["failure_code"] = args.code
    timestamp = int(time.time()) - (600 if args.stale else 0)
    url = args.url.rstrip("/") + "/api/v1/gateway/payouts"
    worst = 0
    for _attempt in range(2 if args.replay else 1):
        status, text = send(signed_request(url, args.secret, payload, timestamp))
        print(status, text.strip())
        worst = max(worst, status)
    return 0 if worst < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
