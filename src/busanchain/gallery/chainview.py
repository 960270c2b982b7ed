"""Per-token chain facts for the public gallery views, cached and kept true by the chain's logs.

Browse, search and token pages must not show a work that its owner has made private on chain
(a transfer from a wallet unpublishes it without the platform's involvement), nor sell a
frozen one. Asking the node per card made a 24-card page cost 48 JSON-RPC round trips. Here a
page costs one: the head block (number, hash, parent hash, timestamp). Facts read once are
cached with the block they were read at, and every new head block is scanned once, with one
`eth_getLogs`, for the events that can change them:

- PhotoNFT `Transfer` and `PublishedSet` drop the token's cached `isPublished`;
- Gallery `Frozen` and `Unfrozen` drop its cached `frozenReason`.

A fact read at block B is cached only if no event after B touched the token, so a read racing
a scan cannot put back a stale value. When the head does not descend from the last scanned
block (a reorg), everything cached is dropped. The cache lives per process (each worker has
its own), holds only public chain facts, and never writes to the database.

Replay. Those four events are the whole story of both facts: PhotoNFT emits `PublishedSet`
whenever `published` changes (a transfer that unpublishes included), a token exists from its
mint `Transfer` until a burn `Transfer`, and `frozenReason` is the last `Frozen` reason unless
an `Unfrozen` came after it. So when the cache starts (or is dropped), the view replays the
contracts' logs from the block they were deployed in, and from then on applies each scanned
event instead of dropping the fact. Every minted token's facts are then known without an
`eth_call`: a cold page sent a JSON-RPC batch, which was over half of a 10,000-NFT browse or
token answer. The replay is skipped (facts are read lazily, as above) when the node no longer
has the deployment block's logs (the PhotoNFT constructor's `RoleGranted`), or when the
history is longer than REPLAY_MAX_BLOCKS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from busanchain.domain.errors import ChainError
from busanchain.gallery.ownership import GalleryChain

TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
PUBLISHED_SET = "0x" + keccak(text="PublishedSet(uint256,bool)").hex()
FROZEN = "0x" + keccak(text="Frozen(uint256,bytes32,address)").hex()
UNFROZEN = "0x" + keccak(text="Unfrozen(uint256,address)").hex()
TOKEN_TOPIC = {TRANSFER: 3, PUBLISHED_SET: 1, FROZEN: 1, UNFROZEN: 1}
# Calldata is built by hand: web3's `encode_abi` took half of a cold browse page's time
# (about 0.3 ms per call, 24 calls a page). tests/gallery/test_chainview.py compares the two.
IS_PUBLISHED = keccak(text="isPublished(uint256)")[:4]
FROZEN_REASON = keccak(text="frozenReason(uint256)")[:4]
log = logging.getLogger(__name__)
MAX_SCAN_BLOCKS = 5_000  # a longer gap than this (a long idle process) just drops the cache
REPLAY_MAX_BLOCKS = 2_000_000  # a longer history is not replayed: facts are then read lazily
REPLAY_WINDOW = 10_000  # blocks per eth_getLogs while replaying (providers cap the range)
ZERO_WORD = bytes(32)
TRUE_WORD = (1).to_bytes(32, "big")
ZERO_TOPIC = "0x" + "00" * 32


def token_calldata(selector: bytes, token_id: int) -> str:
    """The calldata of a view taking one `uint256` (a token id), as hex."""
    return "0x" + (selector + token_id.to_bytes(32, "big")).hex()


@dataclass(frozen=True)
class Head:
    """The chain's head block as one page saw it."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int

    @classmethod
    def of(cls, block: dict[str, Any]) -> Head:
        """From an `eth_getBlockByNumber` answer."""
        return cls(
            number=int(block["number"], 16),
            hash=str(block["hash"]),
            parent_hash=str(block["parentHash"]),
            timestamp=int(block["timestamp"], 16),
        )


@dataclass
class _Facts:
    """One kind of cached fact: token id -> value, with the block it was read at."""

    values: dict[int, Any]
    touched: dict[int, int]  # token id -> newest block whose events touched it


class ChainView:
    """Cached `isPublished` and `frozenReason` per token, invalidated by the chain's logs."""

    def __init__(self, chain: GalleryChain) -> None:
        self.chain = chain
        self._lock = threading.Lock()
        self._head_ready = threading.Condition()
        self._head_reading = False
        self._head_sent = -1  # monotonic ns at which the last finished head read was sent
        self._head_last: Head | None = None
        self._scanned: Head | None = None
        self._epoch = 0
        self._published = _Facts({}, {})
        self._frozen = _Facts({}, {})
        self._complete = False  # replayed: the facts of every minted token are in the cache
        self._minted: set[int] = set()

    @property
    def replayed(self) -> bool:
        """Whether every minted token's facts are known from the replayed logs."""
        return self._complete

    def head(self) -> Head | None:
        """The head block, after invalidating what changed since the last one; None if the
        node cannot be reached (the recorded state then stands).

        Concurrent callers share reads: a caller takes the answer of a read that was sent
        after it arrived (waiting for one if need be), never of an older one. Under load that
        is one head read per round trip, not one per request, and no page is older than the
        request that asked for it."""
        arrived = time.monotonic_ns()
        with self._head_ready:
            while self._head_reading or self._head_sent < arrived:
                if not self._head_reading:
                    self._head_reading = True
                    break
                self._head_ready.wait()
            else:
                return self._head_last
        sent, head = time.monotonic_ns(), None
        try:
            head = self._read_head()
        finally:
            with self._head_ready:
                self._head_reading = False
                self._head_sent, self._head_last = sent, head
                self._head_ready.notify_all()
        return head

    def _read_head(self) -> Head | None:
        client = self.chain.outbox.client
        try:
            head = Head.of(client.request("eth_getBlockByNumber", ["latest", False]))
            self._advance(head)
        except ChainError:
            return None
        return head

    def now(self, head: Head | None) -> int:
        """What the contracts compare expiries against: the head's timestamp (or the clock)."""
        return head.timestamp if head is not None else int(time.time())

    def is_published(self, token_id: int, head: Head) -> bool:
        """PhotoNFT `isPublished` at `head`, from the cache when nothing has touched it since."""
        return self.published_many([token_id], head)[token_id]

    def published_many(self, token_ids: list[int], head: Head) -> dict[int, bool]:
        """`isPublished` of several tokens at `head`: the ones not cached are read together in
        one JSON-RPC batch (a cold page of 24 cards is one round trip, not 24)."""
        found = self._facts_many(self._published, token_ids, head, self._published_call)
        return {token_id: int.from_bytes(out[:32], "big") != 0 for token_id, out in found.items()}

    def frozen_reason(self, token_id: int, head: Head) -> bytes:
        """Gallery `frozenReason` at `head` (32 zero bytes when the token is not frozen)."""
        return self.frozen_many([token_id], head)[token_id]

    def frozen_many(self, token_ids: list[int], head: Head) -> dict[int, bytes]:
        """`frozenReason` of several tokens at `head`, the uncached ones in one batch."""
        found = self._facts_many(self._frozen, token_ids, head, self._frozen_call)
        return {token_id: bytes(out[:32]) for token_id, out in found.items()}

    # -- reads -------------------------------------------------------------------------------

    def _published_call(self, token_id: int) -> dict[str, str]:
        return {"to": self.chain.nft.address, "data": token_calldata(IS_PUBLISHED, token_id)}

    def _frozen_call(self, token_id: int) -> dict[str, str]:
        return {"to": self.chain.gallery.address, "data": token_calldata(FROZEN_REASON, token_id)}

    def _facts_many(
        self,
        facts: _Facts,
        token_ids: list[int],
        head: Head,
        call: Callable[[int], dict[str, str]],
    ) -> dict[int, bytes]:
        """Cached raw answers, and one batch of eth_calls at `head` for the rest.

        A value read at `head` is kept only if the cache has not been reset since, no event
        after `head` touched the token, and the scan has reached `head`."""
        with self._lock:
            if self._complete:  # unminted tokens fall through to the node, which reverts
                known = (t for t in token_ids if t in self._minted)
                found = {t: facts.values.get(t, ZERO_WORD) for t in known}
            else:
                found = {t: facts.values[t] for t in token_ids if t in facts.values}
            epoch = self._epoch
        missing = list(dict.fromkeys(t for t in token_ids if t not in found))
        if not missing:
            return found
        outs = self.chain.outbox.client.calls([call(t) for t in missing], head.number)
        with self._lock:
            scanned = self._scanned is not None and self._scanned.number >= head.number
            for token_id, out in zip(missing, outs, strict=True):
                found[token_id] = out
                untouched = facts.touched.get(token_id, -1) <= head.number
                if scanned and untouched and epoch == self._epoch and not self._complete:
                    facts.values[token_id] = out
        return found

    # -- invalidation ------------------------------------------------------------------------

    def _advance(self, head: Head) -> None:
        with self._lock:
            last = self._scanned
            if last is not None and head.number < last.number:
                return  # a request that read the head a moment before another one
            if last is not None and head.number == last.number and head.hash == last.hash:
                return
            if (
                last is None
                or head.number == last.number
                or head.number - last.number > MAX_SCAN_BLOCKS
                or not self._descends(head, last)
            ):
                self._reset(head)
                return
            for log in self._logs(last.number + 1, head.number):
                self._touch(log)
            self._scanned = head

    def _descends(self, head: Head, last: Head) -> bool:
        if head.number == last.number + 1:
            return head.parent_hash == last.hash
        block = self.chain.outbox.client.request("eth_getBlockByNumber", [hex(last.number), False])
        return block is not None and str(block["hash"]) == last.hash

    def _reset(self, head: Head) -> None:
        self._epoch += 1
        self._published = _Facts({}, {})
        self._frozen = _Facts({}, {})
        self._minted = set()
        self._complete = False
        self._scanned = head
        self._replay(head)

    def _replay(self, head: Head) -> None:
        """Every token's facts from the logs since deployment, if the node still has them.

        Runs under the lock; a node error leaves the cache empty and lazy."""
        deployed = self.chain.deployed_in
        nft_block = deployed.get("PhotoNFT")
        if nft_block is None or len(deployed) < 2:
            return
        first = min(deployed.values())
        if head.number - first > REPLAY_MAX_BLOCKS or not self._history_kept(nft_block):
            return
        self._complete, started, events = True, time.monotonic(), 0
        try:
            for start in range(first, head.number + 1, REPLAY_WINDOW):
                found = self._logs(start, min(start + REPLAY_WINDOW - 1, head.number))
                for event in found:
                    self._apply(event)
                events += len(found)
        except ChainError:
            self._published, self._frozen, self._minted = _Facts({}, {}), _Facts({}, {}), set()
            self._complete = False
            raise
        log.info(
            "gallery chain view: %d events replayed (blocks %d-%d, %d tokens) in %.2f s",
            events,
            first,
            head.number,
            len(self._minted),
            time.monotonic() - started,
        )

    def _history_kept(self, block: int) -> bool:
        """Whether the node still has PhotoNFT's deployment-block logs (a node restored from
        a state snapshot may have lost old logs)."""
        query = {"fromBlock": hex(block), "toBlock": hex(block), "address": self.chain.nft.address}
        return bool(self.chain.outbox.client.request("eth_getLogs", [query]))

    def _logs(self, first: int, last: int) -> list[dict[str, Any]]:
        query = {
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "address": [self.chain.nft.address, self.chain.gallery.address],
            "topics": [list(TOKEN_TOPIC)],
        }
        return list(self.chain.outbox.client.request("eth_getLogs", [query]))

    def _apply(self, log: dict[str, Any]) -> None:
        """Replay mode: bring the token's facts to what the event made them."""
        topics = [str(t) for t in log["topics"]]
        emitter = str(log["address"]).lower()
        from_nft = emitter == self.chain.nft.address.lower()
        if topics[0] == TRANSFER and from_nft and len(topics) == 4:
            token_id = int(topics[3], 16)
            if topics[1] == ZERO_TOPIC:
                self._minted.add(token_id)
            if topics[2] == ZERO_TOPIC:
                self._minted.discard(token_id)
        elif topics[0] == PUBLISHED_SET and from_nft:
            flag = int(str(log["data"]), 16) != 0
            self._published.values[int(topics[1], 16)] = TRUE_WORD if flag else ZERO_WORD
        elif topics[0] == FROZEN and not from_nft:
            self._frozen.values[int(topics[1], 16)] = bytes.fromhex(topics[2][2:])
        elif topics[0] == UNFROZEN and not from_nft:
            self._frozen.values.pop(int(topics[1], 16), None)

    def _touch(self, log: dict[str, Any]) -> None:
        if self._complete:
            self._apply(log)
            return
        topic = str(log["topics"][0])
        position = TOKEN_TOPIC.get(topic)
        if position is None or len(log["topics"]) <= position:
            return
        token_id = int(log["topics"][position], 16)
        block = int(log["blockNumber"], 16)
        facts = self._frozen if topic in (FROZEN, UNFROZEN) else self._published
        facts.values.pop(token_id, None)
        facts.touched[token_id] = max(block, facts.touched.get(token_id, -1))
