"""The desk's blueprint with every desk page on it (each area of the desk is a module of its own)."""
from portal.desk import audit_log, payouts, queue, requests, shops, tickets  # noqa: F401 - their routes join bp
from portal.desk.blueprint import bp

__all__ = ["bp"]
