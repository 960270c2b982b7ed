"""Everything that talks to an EVM chain: node supervisor, RPC client, contracts, signing."""
