"""Benchmarks run against a live local instance of the app."""
