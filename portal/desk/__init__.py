"""The support desk: queue, requests, payouts, shops, tickets and the audit log."""
