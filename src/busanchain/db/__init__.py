"""Database plumbing: engine factory, declarative base, units of work and migrations."""
