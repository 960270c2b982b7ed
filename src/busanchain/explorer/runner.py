"""The indexer loop that the platform runtime runs in a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from busanchain.domain.errors import BusanchainError
from busanchain.explorer.decoder import ContractBook
from busanchain.explorer.indexer import ChainIndexer, SyncReport
from busanchain.explorer.service import contract_book_from_registry
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

STEPS_PER_ROUND = 10


def index_round(indexer: ChainIndexer, book: ContractBook) -> SyncReport:
    """Refresh the known contracts, then index up to STEPS_PER_ROUND batches."""
    indexer.apply_book(book)
    return indexer.sync(max_steps=STEPS_PER_ROUND)


def run_indexer(
    context: PlatformContext,
    stop: threading.Event,
    interval_s: float | None = None,
    books: Callable[[PlatformContext], ContractBook] = contract_book_from_registry,
) -> None:
    """Follow the chain until `stop` is set.

    Catches up without pausing while there is a backlog, then polls every `interval_s`
    (default: settings.index_interval_s). Errors are logged and retried on the next round,
    so a node restart or a locked database never ends the loop.
    """
    interval = context.settings.index_interval_s if interval_s is None else interval_s
    indexer = ChainIndexer(context)
    while not stop.is_set():
        busy = False
        try:
            report = index_round(indexer, books(context))
            busy = report.indexed > 0 or report.reorgs > 0
        except BusanchainError as exc:
            log.warning("indexer: %s", exc)
        except Exception:
            log.exception("indexer round failed")
        if not busy:
            stop.wait(interval)
