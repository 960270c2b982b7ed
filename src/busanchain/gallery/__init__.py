"""The digital art gallery: the Gallery market contract's bindings (signed orders, auctions)."""
