"""The `busanchain` command line, run as a real subprocess."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from busanchain.accounts.service import account_service_for
from busanchain.config import Settings
from busanchain.domain.roles import Role
from busanchain.keys.kek import KeyUnavailable, kek_from_hex
from busanchain.keys.service import KeyService
from busanchain.platform.context import PlatformContext
from tests.conftest import REPO_ROOT
from tests.crash.helpers import platform_env


def _run(
    settings: Settings, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = platform_env(settings) | (extra or {})
    return subprocess.run(
        [sys.executable, "-m", "busanchain", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


def test_db_upgrade_then_deploy_is_idempotent(settings: Settings) -> None:
    assert _run(settings, "db", "upgrade").returncode == 0
    first = _run(settings, "deploy")
    assert first.returncode == 0, first.stderr
    second = _run(settings, "deploy")
    assert second.returncode == 0, second.stderr
    assert "DigitalWon: 0x" in first.stderr
    assert first.stderr == second.stderr  # same address, nothing deployed twice


def test_keys_rotate_reencrypts_every_row(context: PlatformContext, tmp_path: Path) -> None:
    accounts = account_service_for(context)
    for name in ("rot1", "rot2", "rot3"):
        accounts.create_user(name, "correct horse battery", [Role.CITIZEN])
    new_key = secrets.token_hex(32)
    kek_file = tmp_path / "new-kek.hex"
    kek_file.write_text(new_key + "\n")
    kek_file.chmod(0o600)
    result = _run(context.settings, "keys", "rotate", "--new-kek-file", str(kek_file))
    assert result.returncode == 0, result.stderr
    assert "3 rows re-encrypted" in result.stderr
    rotated = KeyService(context, kek_from_hex(new_key))
    for user_id in (1, 2, 3):
        assert rotated.signer_for_user(user_id).address == rotated.custodial_address(user_id)
    old = KeyService(context, kek_from_hex(str(context.settings.kek_env)))
    with pytest.raises(KeyUnavailable):
        old.signer_for_user(1)


def test_keys_rotate_refuses_a_world_readable_kek(settings: Settings, tmp_path: Path) -> None:
    kek_file = tmp_path / "open.hex"
    kek_file.write_text(secrets.token_hex(32))
    kek_file.chmod(0o644)
    result = _run(settings, "keys", "rotate", "--new-kek-file", str(kek_file))
    assert result.returncode == 2
    assert "readable" in result.stderr


def test_info_refuses_unreachable_chain_clearly(settings: Settings) -> None:
    result = _run(settings, "info", "--json", extra={"BUSANCHAIN_RPC_URL": "http://127.0.0.1:9"})
    assert result.returncode == 2
    assert "오류 / error" in result.stderr
    assert "Traceback" not in result.stderr
