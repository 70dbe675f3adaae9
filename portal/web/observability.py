"""What operators see of the running portal: one JSON log line per request, and Prometheus metrics.

Every request gets a request id (a sane incoming ``X-Request-Id``, else a new one), sent back as
``X-Request-Id`` and written on each log line of that request. ``/metrics`` answers only the
addresses in ``METRICS_ALLOWED``; everyone else gets the ordinary 404 page. Under gunicorn with
several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (see gunicorn.conf.py and docs/operations.md) so
that a scrape adds up every worker, not only the one that answered it.
"""
import ipaddress
import logging
import os
import re
import sys
import time
import uuid

from flask import Blueprint, abort, current_app, g, has_request_context, make_response, request, session
from flask.logging import default_handler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from pythonjsonlogger.json import JsonFormatter

from portal.web.database import without_database

bp = Blueprint("observability", __name__)

REQUEST_LOG = logging.getLogger("portal.requests")

# Letters, digits and the punctuation tracing systems use (UUIDs, W3C trace ids, ELB's Root=1-...);
# anything else, or anything longer, is replaced: a log line must never carry what a client injects.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")
# A request that matched no URL rule (a 404 for an unknown path) is counted under this one label,
# so a scan of random paths cannot grow the metrics without bound.
UNMATCHED_ROUTE = "<unmatched>"

# The *_created series (a timestamp per label set) double a scrape's size and no dashboard here uses them.
disable_created_metrics()
REQUESTS = Counter("portal_http_requests", "Requests answered, by URL rule, method and status.",
                   ["route", "method", "status"])
LATENCY = Histogram("portal_http_request_duration_seconds", "Time from the request's start to its answer, by URL rule.",
                    ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))


class CurrentStderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is now (gunicorn and pytest replace it)."""

    def __init__(self):
        """No fixed stream: see ``stream``."""
        super().__init__(sys.stderr)

    @property
    def stream(self):
        """The process's standard error at the time of writing."""
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        """Ignore the stream ``StreamHandler`` sets; ``sys.stderr`` is read on each write."""


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record logged while it is answered (stack traces too)."""

    def filter(self, record):
        """Add ``request_id`` when a request is being answered; never drop a record."""
        if not hasattr(record, "request_id") and has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


def json_formatter():
    """The JSON formatter of every portal log line: time (UTC, ISO 8601), level, logger, pid, message, extras."""
    return JsonFormatter("{levelname}{name}{process}{message}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
                         json_ensure_ascii=False)


def init_app(app):
    """Log each request as JSON, count it for /metrics, and register /metrics."""
    app.config["METRICS_NETWORKS"] = allowed_networks(app.config["METRICS_ALLOWED"])
    _install_json_logging(app.config["LOG_LEVEL"])
    # Registered before any other hook, so the clock starts first and the id exists for every later one.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.register_blueprint(bp)


def _install_json_logging(level):
    """Give the ``portal`` logger (``app.logger`` and ``portal.requests``) one JSON handler on stderr."""
    logger = logging.getLogger("portal")
    # Flask adds its plain-text handler the first time ``app.logger`` is read: it would double each line.
    logger.removeHandler(default_handler)
    if not any(isinstance(handler, CurrentStderrHandler) for handler in logger.handlers):
        handler = CurrentStderrHandler()
        handler.setFormatter(json_formatter())
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
    logger.setLevel(str(level).upper())
    # gunicorn's root handler would print every line a second time.
    logger.propagate = False


def allowed_networks(setting):
    """The networks in ``METRICS_ALLOWED`` (comma-separated addresses or CIDR networks, or a list of them)."""
    entries = setting.split(",") if isinstance(setting, str) else list(setting)
    # A mistyped entry stops the app at start, rather than silently opening or closing /metrics.
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def address_allowed(address, networks):
    """True when ``address`` (``request.remote_addr``) lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 from a dual-stack socket
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def request_id_from(header):
    """The incoming ``X-Request-Id`` when it is a sane token, else a new random id."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _start():
    """``before_request``: start the clock and settle the request id."""
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get("X-Request-Id"))


def _finish(response):
    """``after_request`` (error pages included): send the id back, count the request, write its log line."""
    started = g.get("request_started")
    request_id = g.get("request_id") or request_id_from(None)
    response.headers["X-Request-Id"] = request_id
    if started is None:  # a request that never reached our before_request: nothing to time
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
    LATENCY.labels(route=route, method=request.method).observe(seconds)
    REQUEST_LOG.info("request", extra={
        "request_id": request_id,
        # What the sign-in stored in the signed cookie: no database query for a log line.
        "user_id": _user_id(),
        "method": request.method,
        "route": route,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 2),
        "remote_addr": request.remote_addr,
    })
    return response


def _user_id():
    """The signed-in user's id from the session cookie, as an int, or None."""
    raw = session.get("_user_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


@bp.get("/metrics")
@without_database
def metrics():
    """Prometheus text exposition, for the addresses in ``METRICS_ALLOWED`` only (others: 404)."""
    if not address_allowed(request.remote_addr, current_app.config["METRICS_NETWORKS"]):
        abort(404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each gunicorn worker writes its own files there; a scrape sums them all.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return make_response(body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
