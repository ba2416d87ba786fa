"""The product as a Telegram client (MTProto): implementations of `core.profiles.port` over a client library.

Neither the bot nor the web server imports this package, and it imports neither of them.
"""
