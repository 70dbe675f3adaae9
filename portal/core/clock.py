"""Time as the portal stores it: naive UTC datetimes, and whole seconds since the epoch."""
import datetime


def utcnow():
    """Now as a naive UTC datetime: how every timestamp is stored."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def epoch_seconds(moment=None):
    """Whole seconds since the epoch of a naive UTC moment (now by default)."""
    return int((moment or utcnow()).replace(tzinfo=datetime.UTC).timestamp())
