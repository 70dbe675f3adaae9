"""The deposit: its ledger, the figures derived from it, and the seller's deposit page."""
