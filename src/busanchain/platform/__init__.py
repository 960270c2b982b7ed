"""Wiring of the whole platform: the context services share, and the runtime that runs it."""
