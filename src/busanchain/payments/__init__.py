"""Payments: see tables.py, service.py and routes.py."""
