"""Payee details (收款信息): where refunds are paid, and the shop contact."""
