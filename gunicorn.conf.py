"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden from the environment, so one file serves a laptop and a fleet.
"""
import multiprocessing
import os

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
accesslog = os.environ.get("ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
limit_request_line = 8190
limit_request_fields = 100
