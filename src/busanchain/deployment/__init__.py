"""Idempotent contract deployment: each contract once per chain id, address and code recorded."""
