"""`?wait=` in a web worker that does not run the relayer: the runtime of `busanchain up` in
another process settles the payment, and the worker reads the row until it is settled."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from busanchain.chain.node import AnvilSupervisor
from busanchain.db.migrate import upgrade
from busanchain.deployment.service import DeploymentService
from busanchain.outbox.service import OutboxService
from busanchain.payments.service import PaymentService, PayRequest
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.vouchers.contracts import VoucherChain
from tests.conftest import REPO_ROOT
from tests.crash.helpers import crash_settings, platform_env, wait_until
from tests.payments.conftest import World


def _pay(context: PlatformContext, user_id: int, pid: int, code: str, wait_s: float) -> int:
    status, _ = PaymentService(context).pay(
        user_id, PayRequest(pid, code, 1_000), f"wait-{secrets.token_hex(8)}", wait_s
    )
    return status


def test_a_worker_waits_for_the_relayer_of_another_process(
    tmp_path: Path, database_url: str, anvil: AnvilSupervisor
) -> None:
    settings = crash_settings(tmp_path, database_url, rpc_url=anvil.config.rpc_url)
    context = PlatformContext.create(settings)
    upgrade(context.engine)
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(settings))
    world = World(context, VoucherChain(context))
    try:
        pid = world.program()
        _shop, code = world.merchant("shop1")
        citizen = world.citizen("citizen1")
        world.grant(pid, citizen.address, 10_000)

        started = time.monotonic()  # no runtime anywhere: nobody to wait for
        assert _pay(context, citizen.user_id, pid, code, wait_s=5) == 202
        assert time.monotonic() - started < 2

        log = (tmp_path / "server.log").open("ab")
        server = subprocess.Popen(
            [sys.executable, "-m", "busanchain", "up"],
            env=platform_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
        )
        try:
            wait_until(
                lambda: httpx.get(f"{settings.web_url}/api/health", timeout=2).is_success,
                timeout_s=60,
                what="server health",
            )
            started = time.monotonic()
            assert _pay(context, citizen.user_id, pid, code, wait_s=20) == 200
            assert time.monotonic() - started < 10
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
    finally:
        world.close()
        context.close()
