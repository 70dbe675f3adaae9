"""Payouts: attempts with unique references, and the payment gateway's webhook."""
