"""Cooldowns of rewarded actions and the daily claim on the points ledger."""
