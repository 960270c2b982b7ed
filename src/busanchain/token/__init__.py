"""token feature."""
