"""Platform configuration.

Settings are read once, in an entry point (CLI, web server, test fixture), and passed down.
Nothing reads the environment at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_CHAIN_ID = 31337
ANVIL_DEFAULT_OPERATOR_KEY = (
    # anvil's well-known first development account; public, never use on a real network.
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
)


def _read_env_file(path: Path) -> dict[str, str]:
    """Parse a simple KEY=VALUE env file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class Settings:
    """Everything the platform needs to know about where it runs."""

    root: Path
    data_dir: Path
    database_url: str
    rpc_url: str | None = None
    chain_id: int = DEFAULT_CHAIN_ID
    operator_key: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    anvil_host: str = "127.0.0.1"
    anvil_port: int = 8545
    anvil_block_time: float | None = 1.0
    snapshot_interval_s: float = 10.0
    kek_path: Path | None = None
    kek_env: str | None = None
    session_secret: str | None = None
    reconcile_interval_s: float = 2.0
    index_interval_s: float = 1.0
    confirmations: int = 0
    secure_cookies: bool = False
    web_workers: int = 1  # processes serving the web app (the runtime's own included)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def external_chain(self) -> bool:
        """True when the platform uses an external EVM network and starts no node."""
        return self.rpc_url is not None

    @property
    def node_rpc_url(self) -> str:
        """The JSON-RPC URL the platform talks to."""
        return self.rpc_url or f"http://{self.anvil_host}:{self.anvil_port}"

    @property
    def web_url(self) -> str:
        """The URL of the web server."""
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def chain_dir(self) -> Path:
        """Where the supervised node keeps its snapshots and logs."""
        return self.data_dir / "chain"

    @property
    def node_modules(self) -> Path:
        """The repository's pinned npm toolchain."""
        return self.root / "node_modules"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (used by tests and the CLI)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> str:
        """These settings as JSON (secrets included): what a web worker process is given, on
        its standard input, to serve exactly the same platform."""
        values = asdict(self)
        for name in ("root", "data_dir", "kek_path"):
            values[name] = str(values[name]) if values[name] is not None else None
        values["extra"] = dict(self.extra)
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Settings written by `to_json`."""
        values: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        for name in ("root", "data_dir", "kek_path"):
            values[name] = Path(values[name]) if values.get(name) is not None else None
        return cls(**values)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, root: Path | None = None
    ) -> Settings:
        """Build settings from the environment and an optional `.env` file in the root."""
        root = (root or Path(os.environ.get("BUSANCHAIN_ROOT", Path.cwd()))).resolve()
        env: dict[str, str] = _read_env_file(root / ".env")
        env.update(os.environ if environ is None else environ)
        data_dir = Path(env.get("BUSANCHAIN_DATA_DIR", str(root / "var"))).resolve()
        db_default = f"sqlite:///{data_dir / 'busanchain.sqlite3'}"
        block_time = env.get("BUSANCHAIN_BLOCK_TIME", "1")
        return cls(
            root=root,
            data_dir=data_dir,
            database_url=env.get("BUSANCHAIN_DATABASE_URL", db_default),
            rpc_url=env.get("BUSANCHAIN_RPC_URL") or None,
            chain_id=int(env.get("BUSANCHAIN_CHAIN_ID", str(DEFAULT_CHAIN_ID))),
            operator_key=env.get("BUSANCHAIN_OPERATOR_KEY") or None,
            web_host=env.get("BUSANCHAIN_WEB_HOST", "127.0.0.1"),
            web_port=int(env.get("BUSANCHAIN_WEB_PORT", "8000")),
            anvil_port=int(env.get("BUSANCHAIN_ANVIL_PORT", "8545")),
            anvil_block_time=float(block_time) if block_time not in ("", "0") else None,
            snapshot_interval_s=float(env.get("BUSANCHAIN_SNAPSHOT_INTERVAL", "10")),
            kek_path=Path(env["BUSANCHAIN_KEK_FILE"]) if env.get("BUSANCHAIN_KEK_FILE") else None,
            kek_env=env.get("BUSANCHAIN_KEK") or None,
            session_secret=env.get("BUSANCHAIN_SESSION_SECRET") or None,
            confirmations=int(env.get("BUSANCHAIN_CONFIRMATIONS", "0")),
            secure_cookies=env.get("BUSANCHAIN_SECURE_COOKIES", "") == "1",
            web_workers=max(1, int(env.get("BUSANCHAIN_WEB_WORKERS", "1"))),
            extra={k: v for k, v in env.items() if k.startswith("BUSANCHAIN_")},
        )
