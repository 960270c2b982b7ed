"""Custodial keys and encrypted personal data: envelope encryption under a key-encryption key."""
