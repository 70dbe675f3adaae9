"""Shops: the seller's business on the platform, its entity, categories and standing."""
