"""Activation: an imported resident takes over the citizen account made for them.

The resident importer gives every resident without a wallet a citizen account with no
usable password and a custodial key. Here the resident proves who they are with their
resident registration number and registered mobile number, chooses a username and a
password, and is logged in (pages `/activate`, API `POST /api/activation`).
"""
