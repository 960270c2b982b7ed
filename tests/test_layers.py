"""Import layers: dependencies point down only (see docs/architecture.md and the design brief).

Every module under src/busanchain is parsed with `ast` (nothing is imported), so the test sees
imports inside functions and under `if TYPE_CHECKING:` too. Rules:

- only the entry points (`busanchain.web`, `busanchain.cli`, `busanchain.__main__`) import
  `busanchain.web` or `busanchain.cli`;
- `busanchain.domain` imports nothing else from busanchain;
- `busanchain.db` and `busanchain.chain` import no feature package, nor `busanchain.http` or
  `busanchain.platform` (db/schema.py loads feature tables by name with importlib, which is
  allowed and invisible here);
- `busanchain.http` imports no feature package;
- a feature's `routes` module calls services only: it imports no `repository` or `tables`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "busanchain"

ENTRY_POINTS = frozenset({"web", "cli", "__main__"})
CORE = frozenset({"", "config", "domain", "db", "chain", "http", "platform"}) | ENTRY_POINTS
BELOW_FEATURES_FORBIDDEN = frozenset({"http", "platform", "web", "cli", "__main__"})


@dataclass(frozen=True)
class Import:
    """One `import` of a busanchain module, found in a source file."""

    importer: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_name(path: Path, src: Path) -> str:
    """The dotted module name of a source file under `src`."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str, src: Path) -> bool:
    base = src.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve_from(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    package = importer.split(".")
    if not is_package:
        package.pop()
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def imports_of(path: Path, src: Path) -> Iterator[Import]:
    """The busanchain modules that one source file imports."""
    importer = module_name(path, src)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, importer, path.name == "__init__.py")
            # `from busanchain import web` imports the module busanchain.web
            targets = [
                f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}", src) else base
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                yield Import(importer, target, path, node.lineno)


def layer_of(module: str) -> str:
    """The top-level part under busanchain: `busanchain.db.base` -> `db`, root -> ``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_feature(layer: str) -> bool:
    """Feature folders are everything that is not a core layer (accounts, explorer, ...)."""
    return layer not in CORE


def rule_broken(imp: Import) -> str | None:
    """The layer rule that an import breaks, or None."""
    src, dst = layer_of(imp.importer), layer_of(imp.imported)
    if dst in ENTRY_POINTS and src not in ENTRY_POINTS:
        return "only entry points may import busanchain.web / busanchain.cli"
    if src == "domain" and dst != "domain":
        return "busanchain.domain must import nothing else from busanchain"
    if src in ("db", "chain") and (is_feature(dst) or dst in BELOW_FEATURES_FORBIDDEN):
        return f"busanchain.{src} must not import features, http or platform"
    if src == "http" and is_feature(dst):
        return "busanchain.http must not import feature packages"
    last = imp.imported.rsplit(".", 1)[-1]
    if is_feature(src) and imp.importer.endswith(".routes") and last in ("repository", "tables"):
        return "routes call services only, never repositories or tables"
    return None


def layer_violations(src: Path) -> list[str]:
    """Every import under `src`/busanchain that breaks a layer rule, one line each."""
    found = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        for imp in imports_of(path, src):
            rule = rule_broken(imp)
            if rule:
                found.append(f"{imp.path.relative_to(src)}:{imp.line}: {imp.imported}  ({rule})")
    return found


def test_source_tree_respects_layers() -> None:
    modules = list((SRC / PACKAGE).rglob("*.py"))
    assert len(modules) > 10, "the source tree was not found"
    violations = layer_violations(SRC)
    assert not violations, "layer violations:\n" + "\n".join(violations)


def _write(root: Path, module: str, source: str) -> None:
    parts = module.split(".")
    for i in range(1, len(parts)):
        init = root.joinpath(*parts[:i], "__init__.py")
        init.parent.mkdir(parents=True, exist_ok=True)
        init.touch()
    root.joinpath(*parts).with_suffix(".py").write_text(source, encoding="utf-8")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("busanchain.accounts.service", "from busanchain.web.app import create_app\n"),
        ("busanchain.explorer.service", "def f() -> None:\n    import busanchain.cli.main\n"),
        ("busanchain.system.routes", "from busanchain import web\n"),
        ("busanchain.domain.money", "from busanchain.config import Settings\n"),
        ("busanchain.domain.money", "from ..db import base\n"),
        ("busanchain.db.engine", "from busanchain.accounts.tables import User\n"),
        ("busanchain.db.engine", "from busanchain.platform.context import PlatformContext\n"),
        (
            "busanchain.chain.rpc",
            "import typing\nif typing.TYPE_CHECKING:\n    from busanchain.http import i18n\n",
        ),
        ("busanchain.http.deps", "from busanchain.explorer.service import search\n"),
        ("busanchain.accounts.routes", "from .repository import find_user\n"),
        ("busanchain.accounts.routes", "from busanchain.explorer import tables\n"),
    ],
)
def test_each_rule_catches_a_violation(tmp_path: Path, module: str, source: str) -> None:
    _write(tmp_path, "busanchain.web.app", "")
    _write(tmp_path, "busanchain.cli.main", "")
    _write(tmp_path, "busanchain.db.base", "")
    _write(tmp_path, "busanchain.http.i18n", "")
    _write(tmp_path, "busanchain.explorer.tables", "")
    _write(tmp_path, "busanchain.accounts.repository", "")
    _write(tmp_path, module, source)
    violations = layer_violations(tmp_path)
    assert len(violations) == 1, violations
    assert violations[0].startswith(module.replace(".", "/") + ".py:")


def test_allowed_imports_pass(tmp_path: Path) -> None:
    _write(tmp_path, "busanchain.cli.main", "from busanchain.web.app import create_app\n")
    _write(tmp_path, "busanchain.web.app", "from busanchain.accounts import routes\n")
    _write(tmp_path, "busanchain.accounts.routes", "from busanchain.accounts.service import f\n")
    _write(tmp_path, "busanchain.accounts.service", "from .repository import g\n")
    _write(tmp_path, "busanchain.accounts.repository", "from busanchain.db.base import Base\n")
    _write(tmp_path, "busanchain.db.base", "from busanchain.domain.errors import E\n")
    _write(tmp_path, "busanchain.chain.rpc", "from busanchain.domain import errors\n")
    _write(tmp_path, "busanchain.domain.errors", "from busanchain.domain.roles import Role\n")
    _write(tmp_path, "busanchain.domain.roles", "import enum\n")
    assert layer_violations(tmp_path) == []
