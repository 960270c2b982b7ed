"""Reliable transaction pipeline: outbox, nonce allocation, broadcast and reconciliation."""
