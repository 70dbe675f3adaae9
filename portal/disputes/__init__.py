"""Buyer disputes: negotiated by the seller, or decided by the platform."""
