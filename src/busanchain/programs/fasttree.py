"""A faster builder of the disbursement Merkle tree (same tree as `vouchers.merkle`).

`vouchers.merkle.grants_tree` spends most of its time in pycryptodome's Python wrapper
(about 7 us per keccak). Here one keccak state is reset and reused through pycryptodome's
raw C functions (about 2 us per hash), which makes a 1,000,000-leaf tree about 3x faster.
The result is a `vouchers.merkle.MerkleTree`, identical to `grants_tree` (tests compare).
`background_tree` builds it in a forked process while the caller stores the grants.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from Crypto.Hash.keccak import _raw_keccak_lib as _lib  # type: ignore[attr-defined]
from Crypto.Util._raw_api import (  # type: ignore[attr-defined]
    VoidPointer,
    c_size_t,
    c_ubyte,
    create_string_buffer,
    get_raw_buffer,
)

from busanchain.vouchers.merkle import HASH_BYTES, MerkleTree

_RATE_CAPACITY = c_size_t(64)  # keccak256: capacity 512 bits = 64 bytes
_ROUNDS = c_ubyte(24)
_OUT = c_size_t(32)
_PAD = c_ubyte(0x01)  # Keccak padding (not SHA-3's 0x06)


def keccak_hasher() -> tuple[Callable[[bytes], bytes], Callable[[], None]]:
    """A keccak256 function over one reusable native state, and its destructor."""
    pointer = VoidPointer()
    if _lib.keccak_init(pointer.address_of(), _RATE_CAPACITY, _ROUNDS):
        raise RuntimeError("keccak_init failed")
    state = pointer.get()
    out = create_string_buffer(32)  # type: ignore[call-arg]
    sizes = {n: c_size_t(n) for n in (32, 64, 96)}
    reset, absorb, digest = _lib.keccak_reset, _lib.keccak_absorb, _lib.keccak_digest

    def keccak256(data: bytes) -> bytes:
        reset(state)
        absorb(state, data, sizes.get(len(data)) or c_size_t(len(data)))
        digest(state, out, _OUT, _PAD)
        return get_raw_buffer(out)

    return keccak256, lambda: _lib.keccak_destroy(state)


def fast_grants_tree(grants: Sequence[tuple[str, int]], round_id: int) -> MerkleTree:
    """The tree over (recipient, amount) leaves of one round; equals `grants_tree`."""
    if not grants:
        raise ValueError("a Merkle tree needs at least one leaf")
    h, destroy = keccak_hasher()
    try:
        tail = round_id.to_bytes(32, "big")
        pad = bytes(12)
        level = [
            h(h(pad + bytes.fromhex(address[2:]) + amount.to_bytes(32, "big") + tail))
            for address, amount in grants
        ]
        levels = [b"".join(level)]
        while len(level) > 1:
            nxt = [
                h(a + b) if a < b else h(b + a)
                for a, b in zip(level[0:-1:2], level[1::2], strict=True)
            ]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
            levels.append(b"".join(level))
    finally:
        destroy()
    assert all(len(lv) % HASH_BYTES == 0 for lv in levels)
    return MerkleTree(tuple(levels))


BACKGROUND_MIN = 20_000  # leaves; smaller trees are built in this process, when asked for
WAIT_S = 600.0  # a lost worker must not hang the round forever
_FORK_LOCK = threading.Lock()
_PENDING: tuple[Sequence[tuple[str, int]], int] | None = None


def _build_pending() -> MerkleTree:
    assert _PENDING is not None, "set before the worker forks"
    return fast_grants_tree(*_PENDING)


@contextmanager
def background_tree(
    grants: Sequence[tuple[str, int]], round_id: int
) -> Iterator[Callable[[], MerkleTree]]:
    """Start building the tree of a round; the yielded function waits for it.

    Large trees are built in a forked worker (it inherits `grants`, computes, and sends the
    levels back), so the caller's database work runs meanwhile on the other core.
    """
    global _PENDING
    if len(grants) < BACKGROUND_MIN or "fork" not in mp.get_all_start_methods():
        yield lambda: fast_grants_tree(grants, round_id)
        return
    with _FORK_LOCK:  # two rounds at once must not fork with each other's grants
        _PENDING = (grants, round_id)
        try:
            pool = mp.get_context("fork").Pool(1)  # the worker is forked here
        finally:
            _PENDING = None
    with pool:
        pending = pool.apply_async(_build_pending)
        yield lambda: pending.get(timeout=WAIT_S)
