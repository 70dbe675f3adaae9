"""Support tickets with evidence files, for the seller."""
