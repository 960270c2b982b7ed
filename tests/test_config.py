"""Settings: what a web worker is given is the same platform, secrets included."""

from __future__ import annotations

from pathlib import Path

from busanchain.config import Settings


def test_settings_survive_the_trip_to_a_worker(tmp_path: Path) -> None:
    settings = Settings.from_env(
        environ={
            "BUSANCHAIN_DATA_DIR": str(tmp_path / "var"),
            "BUSANCHAIN_KEK_FILE": str(tmp_path / "kek"),
            "BUSANCHAIN_KEK": "k" * 64,
            "BUSANCHAIN_SESSION_SECRET": "s3cret",
            "BUSANCHAIN_WEB_WORKERS": "3",
            "BUSANCHAIN_BLOCK_TIME": "0",
        },
        root=tmp_path,
    )
    assert settings.web_workers == 3 and settings.anvil_block_time is None
    again = Settings.from_json(settings.to_json())
    assert again == settings
    assert isinstance(again.data_dir, Path) and isinstance(again.kek_path, Path)


def test_web_workers_default_to_one_and_never_fewer(tmp_path: Path) -> None:
    assert Settings.from_env(environ={}, root=tmp_path).web_workers == 1
    zero = Settings.from_env(environ={"BUSANCHAIN_WEB_WORKERS": "0"}, root=tmp_path)
    assert zero.web_workers == 1
