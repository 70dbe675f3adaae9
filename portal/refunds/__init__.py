"""Refund requests: the form, the states and their moves, the pre-checks and the timing."""
