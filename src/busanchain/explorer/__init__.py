"""explorer feature."""
