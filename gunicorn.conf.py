"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment, so one file serves a laptop and a fleet.
"""
import multiprocessing
import os
import shutil

bind = os.environ.get("BIND", "127.0.0.1:8000")
# The app is stateless (sessions in signed cookies, state in the database), so workers scale out;
# threads let a worker overlap waiting on the database.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never take the service down; the app is loaded
# once in the master (preload), so a new worker starts without importing it again.
max_requests = 20000
max_requests_jitter = 2000
preload_app = True
# Behind a reverse proxy that terminates TLS, set FORWARDED_ALLOW_IPS to its address
# (and PROXY_HOPS=1 for the app) so https and client addresses are seen correctly.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# ACCESS_LOG="" turns the access log off (the portal's JSON request lines carry the same and more).
accesslog = os.environ.get("ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# gunicorn's own error log (worker starts, timeouts, crashes) as JSON on stderr, in the same shape as
# the portal's request lines, so one log pipeline reads both. The access log stays gunicorn's text
# line, on stdout or in the file ACCESS_LOG names (named here: logconfig_dict replaces gunicorn's handlers).
if accesslog == "-":
    _access_handler = {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"}
elif accesslog:
    _access_handler = {"class": "logging.FileHandler", "formatter": "access", "filename": accesslog}
else:
    _access_handler = {"class": "logging.NullHandler"}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "portal.web.observability.json_formatter"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        "access": _access_handler,
    },
    "root": {"level": "WARNING", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}


# Prometheus' multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set (an empty folder the workers may
# write, e.g. /run/portal/metrics), every worker keeps its counters in files there and /metrics sums
# them all. Without it each scrape sees only the worker that answered it.
def on_starting(server):
    """Empty the metrics folder once, at the master's start, so old workers' counts never linger."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    """Tell the metrics library a worker is gone, so its live gauges stop counting (its totals stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
limit_request_line = 8190
limit_request_fields = 100
