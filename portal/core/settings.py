"""Settings: their defaults, and how the environment overrides them.

Every period and limit the rules use is a setting here, never a constant in the rules.
"""

DEFAULTS = {
    # Sessions live in signed cookies so any number of app processes can serve a user.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # also set per request when it arrives over HTTPS
    "SESSION_COOKIE_NAME": "portal_session",
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "WTF_CSRF_SSL_STRICT": True,
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # a body over this answers 413
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ("zh_CN", "en"),
    "PROXY_HOPS": 0,  # reverse proxies in front of the app whose X-Forwarded-* headers we trust
    # Who may read /metrics: comma-separated addresses or CIDR networks (request.remote_addr, so
    # behind a proxy set PROXY_HOPS); everyone else gets the 404 page.
    "METRICS_ALLOWED": "127.0.0.1/32,::1",
    # The portal's own log lines (JSON on stderr): DEBUG, INFO, WARNING, ERROR.
    "LOG_LEVEL": "INFO",
    # Strict-Transport-Security on HTTPS responses: how long browsers keep to HTTPS (0: not sent).
    "HSTS_SECONDS": 365 * 24 * 3600,
    # Eligibility.
    "QUIET_PERIOD_DAYS": 90,
    "EXIT_NOTICE_DAYS": 30,
    "PAYEE_RECENT_DAYS": 7,
    # Refund timing, in working days from the start of review.
    "REFUND_MIN_WORKDAYS": 3,
    "REFUND_MAX_WORKDAYS": 7,
    # The largest amount a form accepts at all (a typo guard; the real limit is what is refundable).
    "MAX_REFUND_FEN": 100_000_000 * 100,
    # Sign-in throttling: failures allowed in the window, per account and per address.
    "LOGIN_WINDOW_MINUTES": 15,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
    # Past those, the next attempt waits this long after the latest failure, doubling with each one
    # (up to the window): a burst of guesses slows sign-in down but never shuts its owner out for good.
    "LOGIN_FIRST_DELAY_SECONDS": 30,
    "LEDGER_PAGE_SIZE": 20,
    # PostgreSQL connections each app process keeps open (gunicorn threads + a margin).
    "DB_POOL_SIZE": 8,
    # A NEEDS_INFO request expires when the seller has not answered within this many working days.
    "NEEDS_INFO_EXPIRY_WORKDAYS": 5,
    # Live status: how often a page asks for news, by how busy the request is (none once final).
    "POLL_FAST_SECONDS": 5,  # a payout is under way, or the state changed in the last minutes
    "POLL_SLOW_SECONDS": 30,  # support or finance has it
    "POLL_IDLE_SECONDS": 120,  # a waiting period, or the seller's turn
    # E-mail notifications: sent by `tick` only when SMTP_HOST is set.
    "PUBLIC_URL": "http://127.0.0.1:8000",
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_FROM": "no-reply@localhost",
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT": 10,
    "EMAIL_MAX_AGE_HOURS": 24,
    "EMAIL_BATCH_SIZE": 100,
    "EMAIL_MAX_ATTEMPTS": 6,
    # Payouts: failures before a request is handed to finance for manual handling.
    "PAYOUT_MAX_ATTEMPTS": 3,
    # The payment gateway's webhook: shared HMAC secret (unset = webhook off) and clock tolerance.
    "GATEWAY_WEBHOOK_SECRET": "",
    "GATEWAY_TOLERANCE_SECONDS": 300,
    # JSON bodies from other systems (the gateway's webhook): their size, and how deeply they may nest.
    "WEBHOOK_MAX_BYTES": 64 * 1024,
    "WEBHOOK_MAX_DEPTH": 32,
    # Tickets: evidence files per message and per file, and the SLA in working days.
    "EVIDENCE_MAX_FILES": 5,
    "EVIDENCE_MAX_BYTES": 10 * 1024 * 1024,
    # An image's width × height, read from its header before any pixel is decoded; and the memory its
    # decoded pixels may take (a 40 Mpx photo takes 160 MB), which keeps an upload's peak under 256 MB.
    "EVIDENCE_MAX_PIXELS": 40_000_000,
    "EVIDENCE_MAX_DECODED_BYTES": 160 * 1024 * 1024,
    "TICKET_SLA_WORKDAYS": 2,
    # Embedded widgets: requests per minute per token and per address before a 429.
    "WIDGET_RATE_PER_TOKEN": 120,
    "WIDGET_RATE_PER_ADDRESS": 600,
}

# Settings that may come from the environment, with the type to read them as.
_ENVIRONMENT = {
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "UPLOAD_DIR": str,
    "SESSION_COOKIE_SECURE": bool,
    "PROXY_HOPS": int,
    "HSTS_SECONDS": int,
    "METRICS_ALLOWED": str,
    "LOG_LEVEL": str,
    "DB_POOL_SIZE": int,
    "QUIET_PERIOD_DAYS": int,
    "EXIT_NOTICE_DAYS": int,
    "PAYEE_RECENT_DAYS": int,
    "REFUND_MIN_WORKDAYS": int,
    "REFUND_MAX_WORKDAYS": int,
    "LOGIN_WINDOW_MINUTES": int,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": int,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": int,
    "LOGIN_FIRST_DELAY_SECONDS": int,
    "MAX_CONTENT_LENGTH": int,
    "NEEDS_INFO_EXPIRY_WORKDAYS": int,
    "POLL_FAST_SECONDS": int,
    "POLL_SLOW_SECONDS": int,
    "POLL_IDLE_SECONDS": int,
    "PUBLIC_URL": str,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "SMTP_FROM": str,
    "SMTP_USERNAME": str,
    "SMTP_PASSWORD": str,
    "SMTP_STARTTLS": bool,
    "SMTP_TIMEOUT": int,
    "EMAIL_MAX_AGE_HOURS": int,
    "EMAIL_MAX_ATTEMPTS": int,
    "PAYOUT_MAX_ATTEMPTS": int,
    "GATEWAY_WEBHOOK_SECRET": str,
    "GATEWAY_TOLERANCE_SECONDS": int,
    "WEBHOOK_MAX_BYTES": int,
    "WEBHOOK_MAX_DEPTH": int,
    "EVIDENCE_MAX_FILES": int,
    "EVIDENCE_MAX_BYTES": int,
    "EVIDENCE_MAX_PIXELS": int,
    "EVIDENCE_MAX_DECODED_BYTES": int,
    "TICKET_SLA_WORKDAYS": int,
    "WIDGET_RATE_PER_TOKEN": int,
    "WIDGET_RATE_PER_ADDRESS": int,
}


def from_environment(environ):
    """The settings present in ``environ``, converted to their types."""
    found = {}
    for name, kind in _ENVIRONMENT.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        if kind is bool:
            found[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            found[name] = kind(raw)
    return found
