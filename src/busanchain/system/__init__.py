"""Platform-wide pages and endpoints: home, health and chain info."""
