"""Notifications: in-app notices and the e-mails sent for them."""
