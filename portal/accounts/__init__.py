"""Accounts: who signs in, passwords, sign-in throttling, and the sign-in pages."""
