"""Risk: flags, bans, violations and money owed, and the seller's risk page."""
