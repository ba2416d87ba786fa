"""Telegram profiles: a person's own Telegram user accounts, signed in through MTProto and used on their behalf."""
