"""One nonce allocator per signing key.

The allocator hands out nonces from a database row per (chain, key), locked for the rest of
the caller's transaction, so the nonce and the outbox entry that uses it commit together.
An in-process lock per key keeps threads of one process from queueing on the database lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from busanchain.outbox.repository import OutboxRepository

_LOCKS: dict[tuple[int, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def key_lock(chain_id: int, sender: str) -> threading.Lock:
    """The process-wide lock for one signing key."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((chain_id, sender), threading.Lock())


def allocate_nonce(
    repo: OutboxRepository, chain_id: int, sender: str, chain_nonce: Callable[[], int]
) -> int:
    """Take the next nonce for `sender`; the caller's commit makes it permanent.

    The cursor never moves backwards: after the node restarts from an older snapshot the
    chain's nonce is lower, and the outbox replays the missing transactions in order. If
    someone else used the key, the chain's nonce is higher and the cursor jumps forward.
    """
    cursor = repo.cursor(chain_id, sender)
    on_chain = chain_nonce()
    if cursor is None:
        cursor = repo.add_cursor(chain_id, sender, on_chain)
    nonce = max(cursor.next_nonce, on_chain)
    cursor.next_nonce = nonce + 1
    return nonce
