"""The payment gateway's webhook: signed payout results, each event applied exactly once."""
from flask import Blueprint, current_app, jsonify, request

from portal.core import characters, jsonbody
from portal.core.clock import epoch_seconds
from portal.payouts import labels as payout_labels
from portal.payouts import service as payout_service
from portal.payouts import signature
from portal.web.extensions import csrf

bp = Blueprint("gateway", __name__, url_prefix="/api/v1/gateway")
payout_labels.register()

# The gateway signs; it has no session and no CSRF token to send.
csrf.exempt(bp)

STATUS = {"applied": 200, "duplicate": 200, "stale": 200, "unknown": 404, "invalid": 400, "refused": 422}


@bp.post("/payouts")
def payout_event():
    """Accept one payout result: signature and timestamp checked, replays and stale events absorbed."""
    config = current_app.config
    secret = config["GATEWAY_WEBHOOK_SECRET"]
    if not secret:
        return jsonify(error="the gateway webhook is not configured"), 503
    max_bytes = int(config["WEBHOOK_MAX_BYTES"])
    if request.content_length is not None and request.content_length > max_bytes:
        # Refused unread; a body without a length is read (within MAX_CONTENT_LENGTH) and measured.
        return jsonify(error=f"the body is larger than {max_bytes} bytes"), 422
    body = request.get_data(cache=False)
    refusal = signature.verify(secret, request.headers.get("X-Gateway-Timestamp"),
                             request.headers.get("X-Gateway-Signature"), body, epoch_seconds(),
                             int(config["GATEWAY_TOLERANCE_SECONDS"]))
    if refusal is not None:
        return jsonify(error=refusal), 401
    try:
        payload = jsonbody.parse_object(body, max_bytes, int(config["WEBHOOK_MAX_DEPTH"]))
    except jsonbody.BodyRefused as refused:
        return jsonify(error=refused.detail), 422 if refused.code in ("too_large", "too_deep") else 400
    if characters.json_has_control_characters(payload):
        # "\u0000" is valid JSON, but PostgreSQL cannot store a NUL: refuse it rather than fail on it.
        return jsonify(error="text in the body must not contain control characters"), 422
    outcome, detail = payout_service.handle_gateway_event(payload, body, int(config["PAYOUT_MAX_ATTEMPTS"]))
    return jsonify(status=outcome, detail=detail), STATUS[outcome]
