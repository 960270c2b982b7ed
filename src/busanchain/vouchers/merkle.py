"""Merkle trees of disbursement grants, verifiable by OpenZeppelin's MerkleProof.

A leaf is `keccak256(keccak256(abi.encode(recipient, amount, roundId)))`, the
StandardMerkleTree leaf that PolicyVoucher checks. Inner nodes hash the sorted pair of their
children (OpenZeppelin's commutative hash), so a proof is just the list of siblings. Leaves
keep the order they were given in (the import order); an odd node at the end of a level is
carried up unchanged.

Building is tuned for a million leaves: the ABI encoding of (address, uint256, uint256) is
three 32-byte words written by hand, and hashing uses pycryptodome's keccak directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from Crypto.Hash import keccak as _keccak

HASH_BYTES = 32


def _h(data: bytes) -> bytes:
    return _keccak.new(data=data, digest_bits=256).digest()


def leaf_hash(recipient: str, amount: int, round_id: int) -> bytes:
    """The leaf PolicyVoucher computes for (recipient, amount, roundId)."""
    encoded = (
        bytes(12)
        + bytes.fromhex(recipient[2:])
        + amount.to_bytes(32, "big")
        + round_id.to_bytes(32, "big")
    )
    return _h(_h(encoded))


def _pair(a: bytes, b: bytes) -> bytes:
    return _h(a + b) if a < b else _h(b + a)


@dataclass(frozen=True)
class MerkleTree:
    """All levels of a tree, leaves first; level i is stored as concatenated 32-byte hashes."""

    levels: tuple[bytes, ...]

    @property
    def root(self) -> bytes:
        """The root (the hash of the only node of the last level)."""
        return self.levels[-1][:HASH_BYTES]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0]) // HASH_BYTES

    def leaf(self, index: int) -> bytes:
        """The hash of leaf `index`."""
        return self.levels[0][index * HASH_BYTES : (index + 1) * HASH_BYTES]

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from leaf `index` up to the root."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        proof: list[bytes] = []
        for level in self.levels[:-1]:
            count = len(level) // HASH_BYTES
            sibling = index ^ 1
            if sibling < count:
                proof.append(level[sibling * HASH_BYTES : (sibling + 1) * HASH_BYTES])
            index //= 2
        return proof

    def to_bytes(self) -> bytes:
        """A compact serialisation: the number of leaves, then every level."""
        return self.size.to_bytes(8, "big") + b"".join(self.levels)

    @classmethod
    def from_bytes(cls, blob: bytes) -> MerkleTree:
        """Read back what `to_bytes` wrote."""
        count = int.from_bytes(blob[:8], "big")
        levels: list[bytes] = []
        offset = 8
        while True:
            end = offset + count * HASH_BYTES
            levels.append(blob[offset:end])
            offset = end
            if count == 1:
                break
            count = (count + 1) // 2
        if offset != len(blob):
            raise ValueError("trailing bytes in a serialised Merkle tree")
        return cls(tuple(levels))


def build_tree(leaves: Sequence[bytes]) -> MerkleTree:
    """The tree over leaf hashes, in the given order. At least one leaf is needed."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    level = list(leaves)
    levels = [b"".join(level)]
    while len(level) > 1:
        nxt = [_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        levels.append(b"".join(level))
    return MerkleTree(tuple(levels))


def grants_tree(grants: Iterable[tuple[str, int]], round_id: int) -> MerkleTree:
    """The tree over (recipient, amount) grants of one round."""
    return build_tree([leaf_hash(address, amount, round_id) for address, amount in grants])


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """What MerkleProof.verify does on chain (used by tests and self-checks)."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root
