"""Probe which EVM opcodes a chain can run before deploying cancun-compiled contracts.

The contracts are compiled for `evmVersion: cancun`, so their code uses PUSH0 (shanghai),
MCOPY and TSTORE/TLOAD (cancun). A chain on an older hardfork treats those bytes as invalid
opcodes, and a deployment would fail, or worse, half work. The probe sends `eth_call` without
`to`, so the node runs hand-assembled creation code that uses one opcode and returns 42; a
chain that lacks the opcode halts with an error instead. A control program that uses only old
opcodes runs first, so an error is blamed on the opcode only when the node can run code at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from busanchain.domain.errors import ChainError, EvmVersionUnsupported

# Every program leaves 42 in memory word 0 (or 32) and returns that word.
EXPECTED = (42).to_bytes(32, "big")

# PUSH1 42, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN
CONTROL_CODE = "602a60005260206000f3"
# PUSH1 42, PUSH0, MSTORE, PUSH1 32, PUSH0, RETURN
PUSH0_CODE = "602a5f5260205ff3"
# mstore(0, 42); MCOPY(dst=32, src=0, len=32); return(32, 32)
MCOPY_CODE = "602a600052" + "602060006020" + "5e" + "60206020f3"
# TSTORE(key=1, value=42); TLOAD(1); mstore(0, value); return(0, 32)
TSTORE_CODE = "602a60015d" + "60015c" + "600052" + "60206000f3"

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EvmSupport:
    """Which of the post-paris opcodes the chain runs."""

    push0: bool
    mcopy: bool
    tstore: bool

    @property
    def missing(self) -> list[str]:
        """Names of the opcodes the chain lacks, in hardfork order."""
        names = {"PUSH0": self.push0, "MCOPY": self.mcopy, "TSTORE/TLOAD": self.tstore}
        return [name for name, ok in names.items() if not ok]

    @property
    def cancun(self) -> bool:
        """True when the chain runs everything evmVersion cancun emits."""
        return not self.missing


def _eth_call(rpc_url: str, code_hex: str) -> dict[str, Any]:
    """Run creation code with eth_call; return the JSON-RPC response body."""
    payload = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_call",
        "params": [{"data": "0x" + code_hex, "gas": hex(1_000_000)}, "latest"],
    }
    try:
        response = httpx.post(rpc_url, json=payload, timeout=PROBE_TIMEOUT_S)
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainError(
            f"The EVM probe could not reach {rpc_url}: {exc}",
            f"EVM 버전 확인을 위해 {rpc_url}에 연결할 수 없습니다: {exc}",
        ) from exc
    if not isinstance(body, dict):
        raise ChainError(f"The node at {rpc_url} sent an unexpected answer: {body!r}")
    return body


def _runs(rpc_url: str, code_hex: str) -> bool:
    """True when the program ran and returned 42."""
    body = _eth_call(rpc_url, code_hex)
    if "error" in body:
        return False
    result = body.get("result")
    return (
        isinstance(result, str)
        and result.startswith("0x")
        and (bytes.fromhex(result[2:]) == EXPECTED)
    )


def probe_evm(rpc_url: str) -> EvmSupport:
    """Find out whether the chain at `rpc_url` runs PUSH0, MCOPY and TSTORE.

    Raises:
        ChainError: The node is unreachable, or cannot run even the control program (so an
            error could not be blamed on a missing opcode).
    """
    if not _runs(rpc_url, CONTROL_CODE):
        raise ChainError(
            f"The node at {rpc_url} cannot run code through eth_call; the EVM version is unknown.",
            f"{rpc_url} 노드에서 eth_call로 코드를 실행할 수 없어 EVM 버전을 확인할 수 없습니다.",
        )
    return EvmSupport(
        push0=_runs(rpc_url, PUSH0_CODE),
        mcopy=_runs(rpc_url, MCOPY_CODE),
        tstore=_runs(rpc_url, TSTORE_CODE),
    )


def require_cancun(rpc_url: str) -> EvmSupport:
    """Refuse a chain that cannot run cancun bytecode; return the probe result otherwise.

    Raises:
        EvmVersionUnsupported: Naming the missing opcodes, in Korean and English.
        ChainError: The probe itself failed.
    """
    support = probe_evm(rpc_url)
    if support.missing:
        missing = ", ".join(support.missing)
        raise EvmVersionUnsupported(
            f"The chain at {rpc_url} lacks {missing}: the contracts are compiled for the cancun "
            "EVM. Upgrade the network to the cancun hardfork (or later) before deploying.",
            f"{rpc_url} 체인은 {missing} 명령어를 지원하지 않습니다. 컨트랙트는 cancun EVM용으로 "
            "컴파일되었으므로, 배포 전에 네트워크를 cancun 하드포크 이상으로 업그레이드하세요.",
            missing=support.missing,
        )
    return support
