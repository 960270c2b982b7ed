"""Chain bindings shared by the allowance features: contract handles, Merkle trees, EIP-712."""
