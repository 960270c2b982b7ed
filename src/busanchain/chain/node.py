"""Supervisor for the embedded anvil node.

The supervisor starts anvil on loopback, waits until it answers, takes atomic snapshots of
its state on an interval and at clean stop, and restarts it from the last snapshot if the
process dies. Whatever the chain lost after the last snapshot is replayed by the outbox
reconciler, which the `on_restart` callback triggers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from busanchain.chain.rpc import raw_call, wait_for_rpc
from busanchain.chain.snapshots import (
    atomic_write,
    dump_hex_to_gzip,
    read_dump,
    torn_dump,
    unpack_snapshot,
)
from busanchain.domain.errors import ChainError, ConfigurationError

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "state.json.gz"
SNAPSHOT_META_NAME = "state.meta.json"
SNAPSHOT_TRIES = 5  # dumps taken while blocks are mined, before a snapshot is skipped
MINING_SETTLE_S = 0.01
SNAPSHOT_SHARE = 0.05  # at most this share of the time goes to periodic snapshots...
SNAPSHOT_CHEAP_S = 0.25  # ...once one takes longer than this


def find_anvil_binary(node_modules: Path) -> Path:
    """Locate the anvil binary shipped in the pinned npm package for this platform."""
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    machine = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), ""
    )
    candidate = node_modules / "@foundry-rs" / f"anvil-{system}-{machine}" / "bin" / "anvil"
    if candidate.is_file():
        return candidate
    raise ConfigurationError(
        f"anvil was not found at {candidate}. Run `make setup` (npm ci) first.",
        f"anvil을 찾을 수 없습니다({candidate}). 먼저 `make setup`을 실행하세요.",
    )


def snapshot_gap(interval_s: float, took_s: float) -> float:
    """The wait before the next periodic snapshot: the configured interval, or, once a
    snapshot takes more than SNAPSHOT_CHEAP_S, long enough that snapshots use at most
    SNAPSHOT_SHARE of the time.

    anvil dumps its whole history each time, so a snapshot's cost grows with the chain: with
    1 s blocks, about 2 s after a day (86,400 blocks, `docs/benchmarks.md`). Without a bound,
    a node up for a week would spend nearly all its time in snapshots. A longer gap loses more
    blocks when the node dies; the platform's own transactions in them are sent again from the
    outbox by the reconciler. Short chains (and the tests' short intervals) are unaffected.
    """
    if took_s <= SNAPSHOT_CHEAP_S:
        return interval_s
    return max(interval_s, took_s / SNAPSHOT_SHARE)


@dataclass(frozen=True)
class AnvilConfig:
    """How to run the node."""

    binary: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8545
    chain_id: int = 31337
    block_time: float | None = 1.0
    gas_limit: int = 300_000_000
    snapshot_interval_s: float = 10.0

    @property
    def rpc_url(self) -> str:
        """JSON-RPC URL of the node."""
        return f"http://{self.host}:{self.port}"

    @property
    def snapshot_path(self) -> Path:
        """The last good snapshot."""
        return self.state_dir / SNAPSHOT_NAME

    @property
    def snapshot_meta_path(self) -> Path:
        """Facts about the last snapshot (the head block it surely contains)."""
        return self.state_dir / SNAPSHOT_META_NAME


class AnvilSupervisor:
    """Starts, watches, snapshots and stops one anvil process."""

    def __init__(self, config: AnvilConfig, on_restart: Callable[[], None] | None = None) -> None:
        self.config = config
        self.on_restart = on_restart
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._watcher: threading.Thread | None = None
        self.restarts = 0
        self.torn_dumps = 0  # dumps taken again because a block was mined meanwhile
        self.unchanged_snapshots = 0  # snapshots that found the state already written
        self._written: tuple[bytes, tuple[int, int, int]] | None = None  # see _unchanged
        self.last_snapshot_at: float | None = None
        self.snapshot_gap_s = config.snapshot_interval_s  # the watchdog's wait between snapshots

    @property
    def pid(self) -> int | None:
        """The node's process id while it runs."""
        return self._process.pid if self._process else None

    def is_alive(self) -> bool:
        """True while the node process runs."""
        return self._process is not None and self._process.poll() is None

    def _command(self, load_state: Path | None) -> list[str]:
        cfg = self.config
        cmd = [
            str(cfg.binary),
            "--host",
            cfg.host,
            "--port",
            str(cfg.port),
            "--chain-id",
            str(cfg.chain_id),
            "--base-fee",
            "0",
            "--gas-limit",
            str(cfg.gas_limit),
            "--hardfork",
            "cancun",
        ]
        if cfg.block_time:
            cmd += ["--block-time", str(cfg.block_time)]
        if load_state is not None:
            cmd += ["--load-state", str(load_state)]
        return cmd

    @property
    def _pid_file(self) -> Path:
        return self.config.state_dir / "anvil.pid"

    def _retire_orphan(self) -> None:
        """A node left running by a killed platform: snapshot its state, then stop it."""
        try:
            pid = int(self._pid_file.read_text(encoding="utf-8"))
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"anvil" not in cmdline:  # the pid was reused by an unrelated process
            return
        log.warning("found a node left running (pid %s); saving its state before restart", pid)
        try:
            self.snapshot()
        except ChainError as exc:
            log.warning("could not snapshot the orphaned node: %s", exc)
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def _node_env(self) -> dict[str, str]:
        """The node's environment, with a home of its own inside the state directory.

        anvil spills old block states to ``$HOME/.foundry/anvil/tmp`` and removes them only on
        a clean exit; after a kill -9 they would pile up in the user's home. With the home in
        the state directory the spill lives with the chain's data, and it is cleared here
        before each start (the previous process is gone by then, and the spill is a cache).
        """
        home = self.config.state_dir / "home"
        self._clear_spill()
        home.mkdir(parents=True, exist_ok=True)
        return {**os.environ, "HOME": str(home)}

    def _clear_spill(self) -> None:
        """Delete the node's spill of old states (only when no node process is running).

        A node that runs for hours (a test session's) spills gigabytes, and SIGTERM does not
        remove them either, so both start and stop clear it."""
        spill = self.config.state_dir / "home" / ".foundry" / "anvil" / "tmp"
        shutil.rmtree(spill, ignore_errors=True)

    def _spawn(self) -> None:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self._retire_orphan()
        load_state = None
        if cfg.snapshot_path.is_file():
            load_state = unpack_snapshot(cfg.snapshot_path, cfg.state_dir / "load-state.json")
        log_file = open(cfg.state_dir / "anvil.log", "ab")  # noqa: SIM115
        self._process = subprocess.Popen(  # noqa: S603
            self._command(load_state),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=self._node_env(),
        )
        log_file.close()
        atomic_write(self._pid_file, str(self._process.pid).encode())
        try:
            wait_for_rpc(cfg.rpc_url, timeout_s=20)
        except ChainError:
            self._kill()
            raise

    def start(self, watch: bool = True) -> None:
        """Start the node (from the last snapshot, if any) and, optionally, the watchdog."""
        with self._lock:
            if self.is_alive():
                return
            self._stopping.clear()
            self._spawn()
        if watch:
            self._watcher = threading.Thread(target=self._watch, name="anvil-watch", daemon=True)
            self._watcher.start()

    def snapshot(self) -> Path:
        """Take an atomic snapshot of the node's state; return its path.

        The head is read before the dump, so every block up to it is in the snapshot: those
        blocks survive a crash, and the reconciler treats them as final.
        """
        head = int(raw_call(self.config.rpc_url, "eth_blockNumber", [], timeout_s=10), 16)
        dump = self._whole_dump()
        if self._unchanged(dump):
            self.unchanged_snapshots += 1  # a still node: the file already holds this state
        else:
            atomic_write(self.config.snapshot_path, dump)
            self._written = hashlib.sha256(dump).digest(), self._file_identity()
        meta = {"block_number": head, "taken_at": time.time()}
        atomic_write(self.config.snapshot_meta_path, json.dumps(meta).encode())
        self.last_snapshot_at = meta["taken_at"]
        return self.config.snapshot_path

    def _whole_dump(self) -> bytes:
        """An `anvil_dumpState` answer (gzip) that holds one moment of the chain.

        A dump taken while a block is mined can be torn (`snapshots.torn_dump`). Mining is
        paused for the snapshot and a torn dump is taken again, a few times; a torn one is
        never written over the last good snapshot.

        Raises:
            ChainError: the node is unreachable, or every try was torn.
        """
        problem = ""
        with self._mining_paused():
            for attempt in range(SNAPSHOT_TRIES):
                dump = raw_call(self.config.rpc_url, "anvil_dumpState", [], timeout_s=120)
                gzipped = dump_hex_to_gzip(dump)
                if self._unchanged(gzipped):
                    return gzipped
                problem = torn_dump(read_dump(gzipped)) or ""
                if not problem:
                    return gzipped
                self.torn_dumps += 1
                log.info("snapshot try %s was torn by a block mined: %s", attempt + 1, problem)
                time.sleep(MINING_SETTLE_S * (attempt + 1))
        raise ChainError(f"no whole snapshot in {SNAPSHOT_TRIES} tries; last: {problem}")

    def _unchanged(self, gzipped: bytes) -> bool:
        """Whether `gzipped` is, byte for byte, the snapshot this process last wrote, and the
        file is still that one (same inode, size and mtime). A still node dumps the same
        bytes each time; that state was whole when it was written, so it is not parsed,
        checked or written again."""
        if self._written is None:
            return False
        digest, identity = self._written
        return identity == self._file_identity() and hashlib.sha256(gzipped).digest() == digest

    def _file_identity(self) -> tuple[int, int, int]:
        """(inode, size, mtime in ns) of the snapshot file; (0, 0, 0) when there is none."""
        try:
            stat = self.config.snapshot_path.stat()
        except FileNotFoundError:
            return 0, 0, 0
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    @contextmanager
    def _mining_paused(self) -> Iterator[None]:
        """Automine off while a snapshot is taken.

        An automining node mines a block per transaction, so under a stream of them most
        dumps of a long chain overlapped a block. With automine off, only a block already
        being mined can still tear the first try; the next one is whole. Transactions sent
        meanwhile wait in the pool and are mined, in one block, when the snapshot is done. A
        node with a block time mines rarely enough that taking a torn dump again suffices.
        """
        if self.config.block_time:
            yield
            return
        url = self.config.rpc_url
        raw_call(url, "evm_setAutomine", [False], timeout_s=10)
        try:
            time.sleep(MINING_SETTLE_S)  # a block being mined as automine went off
            yield
        finally:
            raw_call(url, "evm_setAutomine", [True], timeout_s=10)
            if int(raw_call(url, "txpool_status", [], timeout_s=10)["pending"], 16):
                raw_call(url, "evm_mine", [], timeout_s=30)

    def snapshot_block(self) -> int:
        """The newest block that the last snapshot surely holds (-1 when there is none)."""
        try:
            meta = json.loads(self.config.snapshot_meta_path.read_text(encoding="utf-8"))
            return int(meta["block_number"])
        except (OSError, ValueError, KeyError):
            return -1

    def _watch(self) -> None:
        next_snapshot = time.monotonic() + self.config.snapshot_interval_s
        while not self._stopping.wait(0.25):
            if not self.is_alive():
                self._restart_after_crash()
                continue
            if time.monotonic() >= next_snapshot:
                started = time.monotonic()
                self._snapshot_quietly()
                self.snapshot_gap_s = snapshot_gap(
                    self.config.snapshot_interval_s, time.monotonic() - started
                )
                next_snapshot = time.monotonic() + self.snapshot_gap_s

    def _snapshot_quietly(self) -> None:
        try:
            with self._lock:
                if self.is_alive() and not self._stopping.is_set():
                    self.snapshot()
        except ChainError as exc:
            log.warning("snapshot failed: %s", exc)

    def _restart_after_crash(self) -> None:
        with self._lock:
            if self._stopping.is_set() or self.is_alive():
                return
            code = self._process.returncode if self._process else None
            log.error("anvil exited with %s; restarting from the last snapshot", code)
            try:
                self._spawn()
            except ChainError as exc:
                log.error("anvil restart failed: %s", exc)
                time.sleep(1)
                return
            self.restarts += 1
        if self.on_restart is not None:
            try:
                self.on_restart()
            except Exception:  # the watchdog must survive a failing callback
                log.exception("on_restart callback failed")

    def _kill(self) -> None:
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop(self, snapshot: bool = True) -> None:
        """Stop cleanly: a final snapshot, then SIGTERM; then delete the spill of old states."""
        self._stopping.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        with self._lock:
            if snapshot and self.is_alive():
                try:
                    self.snapshot()
                except ChainError as exc:
                    log.error("final snapshot failed: %s", exc)
            self._kill()
            self._process = None
            self._pid_file.unlink(missing_ok=True)
            self._clear_spill()
