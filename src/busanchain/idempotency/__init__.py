"""Idempotency keys for requests that move money."""
