"""The audit log: one append-only row per desk action or sensitive view."""
