"""The running platform: node supervisor, migrations, deployment and background loops.

`busanchain up` starts a PlatformRuntime, then serves the web application in the foreground
(the web server is started by the CLI entry point, since nothing below it imports web).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from busanchain.chain.client import ChainClient
from busanchain.chain.node import AnvilConfig, AnvilSupervisor, find_anvil_binary
from busanchain.chain.rpc import wait_for_rpc
from busanchain.config import Settings
from busanchain.db.engine import check_durability
from busanchain.db.migrate import upgrade
from busanchain.db.runlock import RuntimeLock
from busanchain.domain.errors import ConfigurationError
from busanchain.outbox.reconciler import Reconciler, run_periodically, settle
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer, signer_lookup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeInfo:
    """What `busanchain info --json` prints; scripts rely on these keys."""

    web_url: str
    rpc_url: str
    chain_id: int
    block_number: int
    contracts: dict[str, str]


def with_default_secrets(settings: Settings) -> Settings:
    """Point the key-encryption key at a file outside the database unless one is configured."""
    if settings.kek_env or settings.kek_path:
        return settings
    return settings.with_overrides(kek_path=settings.data_dir / "secrets" / "kek.hex")


class PlatformRuntime:
    """Starts and stops every moving part of the platform in the right order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = with_default_secrets(settings)
        self.context = PlatformContext.create(self.settings)
        self.node: AnvilSupervisor | None = None
        self.operator = operator_signer(self.settings)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reconciler: Reconciler | None = None
        self.lock = RuntimeLock(self.context.engine)

    # -- start -------------------------------------------------------------------------------

    def start(self) -> RuntimeInfo:
        """Bring up storage, chain, contracts and background loops (not the web server).

        If any step fails, whatever was already started is stopped again.
        """
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RuntimeInfo:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()  # before migrations: one runtime per database (db/runlock.py)
        check_durability(self.context.engine)
        upgrade(self.context.engine)
        self._start_chain()
        self._check_chain_id()
        self._prepare_keys()
        self.reconciler = Reconciler(
            self.context,
            signers=signer_lookup(self.context, self.operator),
            finalized_block=self._finalized_block,
        )
        settle(self.reconciler)  # finish whatever a previous run left open, in nonce order
        contracts = self._deploy()
        self._start_loops()
        info = self.info(contracts)
        self._write_runtime_file(info)
        return info

    def _start_chain(self) -> None:
        if self.settings.external_chain:
            wait_for_rpc(self.settings.node_rpc_url, timeout_s=30)
            return
        config = AnvilConfig(
            binary=find_anvil_binary(self.settings.node_modules),
            state_dir=self.settings.chain_dir,
            host=self.settings.anvil_host,
            port=self.settings.anvil_port,
            chain_id=self.settings.chain_id,
            block_time=self.settings.anvil_block_time,
            snapshot_interval_s=self.settings.snapshot_interval_s,
        )
        self.node = AnvilSupervisor(config, on_restart=self._after_node_restart)
        self.node.start(watch=True)

    def _check_chain_id(self) -> None:
        actual = ChainClient(self.settings.node_rpc_url).chain_id()
        if actual != self.settings.chain_id:
            raise ConfigurationError(
                f"The node's chain id is {actual}, but BUSANCHAIN_CHAIN_ID is "
                f"{self.settings.chain_id}.",
                f"노드의 체인 ID({actual})가 설정값({self.settings.chain_id})과 다릅니다.",
            )

    def _prepare_keys(self) -> None:
        from busanchain.keys.kek import ensure_kek_file

        if self.settings.kek_path and not self.settings.kek_env:
            ensure_kek_file(self.settings.kek_path)

    def _deploy(self) -> dict[str, str]:
        from busanchain.deployment.service import DeploymentService
        from busanchain.outbox.service import OutboxService

        service = DeploymentService(self.context, OutboxService(self.context))
        return service.deploy_all(self.operator)

    def _start_loops(self) -> None:
        assert self.reconciler is not None
        self._spawn(
            "reconciler",
            run_periodically,
            self.reconciler,
            self.settings.reconcile_interval_s,
            self._stop,
        )
        from busanchain.explorer.runner import run_indexer

        self._spawn("indexer", run_indexer, self.context, self._stop)
        from busanchain.payments.relayer import run_relayer

        self._spawn("payments-relayer", run_relayer, self.context, self._stop)
        self._spawn("programs-recovery", _recover_programs, self.context)
        self._spawn("studio-recovery", _recover_studio, self.context)
        self._spawn("auction-settler", _settle_auctions, self.context, self._stop)
        self._spawn("photo-sync", _sync_photos, self.context, self._stop)

    def _spawn(self, name: str, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    # -- reliability hooks -------------------------------------------------------------------

    def _finalized_block(self, client: ChainClient) -> int:
        if self.node is not None:
            return self.node.snapshot_block()
        return client.block_number() - self.settings.confirmations

    def _after_node_restart(self) -> None:
        if self.reconciler is not None:
            report = self.reconciler.run_once()
            log.warning("node restarted from snapshot; reconciler replayed: %s", report)

    # -- info and stop -----------------------------------------------------------------------

    def info(self, contracts: dict[str, str] | None = None) -> RuntimeInfo:
        """The platform's URLs, chain id, head and contract addresses."""
        client = ChainClient(self.settings.node_rpc_url)
        return RuntimeInfo(
            web_url=self.settings.web_url,
            rpc_url=self.settings.node_rpc_url,
            chain_id=client.chain_id(),
            block_number=client.block_number(),
            contracts=contracts if contracts is not None else {},
        )

    def _write_runtime_file(self, info: RuntimeInfo) -> None:
        payload = asdict(info) | {"pid": os.getpid()}
        runtime_file(self.settings).write_text(json.dumps(payload, indent=2), encoding="utf-8")

    def stop(self) -> None:
        """Stop loops, take a final snapshot and stop the node."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.node is not None:
            self.node.stop(snapshot=True)
        if self.lock.held:  # a runtime refused by the lock leaves the holder's file alone
            runtime_file(self.settings).unlink(missing_ok=True)
        self.lock.release()
        self.context.close()


def _recover_programs(context: PlatformContext) -> None:
    """After a restart: finish program publications and disbursement rounds a crash cut off.

    Both are idempotent (they check the chain and the outbox first), so running them on
    every start is safe; failures are logged and retried on the next start or CLI run.
    """
    from busanchain.programs.disburse import Disburser
    from busanchain.programs.service import ProgramService

    try:
        finished = ProgramService(context).finish_all()
        resumed = Disburser(context).resume()
        log.info("recovery: %s program(s) finished, %s round(s) resumed", finished, len(resumed))
    except Exception:  # a background thread must log, not die silently
        log.exception("recovery of programs and rounds failed; run `busanchain programs resume`")


def _recover_studio(context: PlatformContext) -> None:
    """After a restart: finish photo claims and publication changes a crash cut off."""
    from busanchain.studio.service import studio_service_for

    try:
        looked_at = studio_service_for(context).resume_pending()
        log.info("recovery: %s photo(s) with transactions in flight re-checked", looked_at)
    except Exception:  # a background thread must log, not die silently
        log.exception("recovery of photo claims failed; it is retried on the next start")


AUCTION_SETTLE_INTERVAL_S = 15.0


def _settle_auctions(context: PlatformContext, stop: threading.Event) -> None:
    """Settle ended gallery auctions (anyone may; the operator pays the gas) until stopped."""
    from busanchain.gallery.service import gallery_service_for

    while not stop.is_set():
        try:
            settled = gallery_service_for(context).settle_ended()
            if settled:
                log.info("gallery: %s ended auction(s) settled", settled)
        except Exception:  # a background loop must log, not die
            log.exception("settling ended auctions failed; retrying")
        stop.wait(AUCTION_SETTLE_INTERVAL_S)


PHOTO_SYNC_INTERVAL_S = 2.0


def _sync_photos(context: PlatformContext, stop: threading.Event) -> None:
    """Follow indexed NFT events into the photo rows until stopped (`PhotoFollower`)."""
    from busanchain.gallery.service import PhotoFollower

    follower = PhotoFollower(context)
    while not stop.is_set():
        try:
            follower.pass_once()
        except Exception:  # a background loop must log, not die
            log.exception("photo sync pass failed; retrying")
        stop.wait(PHOTO_SYNC_INTERVAL_S)


def runtime_file(settings: Settings) -> Path:
    """Where a running platform records its pid and URLs."""
    return settings.data_dir / "runtime.json"
