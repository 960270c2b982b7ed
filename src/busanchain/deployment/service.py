"""Deploy the platform's contracts once per chain id and remember where they are.

Running `deploy_all` again does nothing while every recorded contract still has its recorded
runtime code on chain. When a recorded address has no code (the chain was reset, or a dev
node lost its state), or different code, the contract is deployed again and the record
updated, with a log line saying why. A record whose source has changed since deployment is
kept and only reported: replacing a money contract would orphan every balance in it, so an
upgrade is a deliberate migration, not a side effect of starting the platform.

After every run, `deploy_all` checks the roles the contracts must hold on each other (the
Gallery holds PhotoNFT's ESCROW_ROLE, so an auctioned work stays published in its escrow) and
grants a missing one from the operator through the outbox. A redeployed contract has new
addresses and no roles, so it is wired again; a wired set sends nothing.

After a node restart from an older snapshot, run the outbox reconciler first: it replays the
original deployment transaction, which recreates the contract at its recorded address.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from sqlalchemy.exc import IntegrityError

from busanchain.chain.artifacts import Artifact, load_artifact, runtime_code_hash
from busanchain.chain.evm_probe import require_cancun
from busanchain.chain.signing import Signer
from busanchain.db.base import utcnow
from busanchain.deployment.repository import DeploymentRepository
from busanchain.deployment.tables import ContractDeployment
from busanchain.domain.errors import ChainError, ConfigurationError
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

DEPLOY_TIMEOUT_S = 60.0
_DEPLOY_LOCK = threading.Lock()  # one deployment run at a time per process


@dataclass(frozen=True)
class ContractPlan:
    """How to deploy one contract: its artifact name and constructor arguments."""

    name: str
    constructor_types: tuple[str, ...]
    # (operator address, addresses deployed earlier in the plan) -> arguments
    constructor_args: Callable[[str, Mapping[str, str]], tuple[Any, ...]]
    depends_on: tuple[str, ...] = ()  # redeployed whenever one of these is (new addresses)

    def init_code(self, artifact: Artifact, operator: str, earlier: Mapping[str, str]) -> bytes:
        """Creation bytecode followed by the ABI-encoded constructor arguments."""
        args = encode(list(self.constructor_types), list(self.constructor_args(operator, earlier)))
        return artifact.creation_code(args)


def _operator_is_admin(operator: str, earlier: Mapping[str, str]) -> tuple[Any, ...]:
    return (operator,)


def _voucher_args(operator: str, earlier: Mapping[str, str]) -> tuple[Any, ...]:
    # The operator is also the treasury that receives expired backing: on this platform the
    # city's operator account holds the city's DigitalWon (see docs/architecture.md).
    return (operator, earlier["DigitalWon"], earlier["MerchantRegistry"], operator)


GALLERY_FEE_BPS = 250  # 2.5% platform fee; the contract caps it (MAX_FEE_BPS)


def _gallery_args(operator: str, earlier: Mapping[str, str]) -> tuple[Any, ...]:
    return (
        operator,
        earlier["DigitalWon"],
        earlier["PhotoNFT"],
        operator,
        GALLERY_FEE_BPS,
        operator,
    )


# Order matters: a plan may use the addresses of the plans before it.
# DigitalWon(admin): the operator becomes admin, issuer and pauser.
# MerchantRegistry(admin): the operator becomes admin and registrar.
# PolicyVoucher(admin, token, registry, treasury): the operator holds every role.
DEFAULT_PLANS: tuple[ContractPlan, ...] = (
    ContractPlan("DigitalWon", ("address",), _operator_is_admin),
    ContractPlan("MerchantRegistry", ("address",), _operator_is_admin),
    ContractPlan(
        "PolicyVoucher",
        ("address", "address", "address", "address"),
        _voucher_args,
        depends_on=("DigitalWon", "MerchantRegistry"),
    ),
    # PhotoNFT(admin): the operator becomes admin and studio admin (grants studios' minter role).
    ContractPlan("PhotoNFT", ("address",), _operator_is_admin),
    # Gallery(admin, token, nft, feeRecipient, feeBps, matcher): the operator is admin,
    # moderator, fee recipient and the matcher that co-signs fills (off-chain cancels).
    ContractPlan(
        "Gallery",
        ("address", "address", "address", "address", "uint256", "address"),
        _gallery_args,
        depends_on=("DigitalWon", "PhotoNFT"),
    ),
)


@dataclass(frozen=True)
class RoleWiring:
    """A role one deployed contract must hold on another, granted after deployment."""

    contract: str  # the AccessControl contract that grants the role
    role: str  # the role constant's name, e.g. "ESCROW_ROLE" (its id is keccak256 of the name)
    holder: str  # the contract that must hold the role

    @property
    def role_id(self) -> bytes:
        """The role's 32-byte id, as Solidity's `keccak256("NAME")`."""
        return keccak(text=self.role)


# The Gallery escrows auctioned PhotoNFTs: as an escrow holder it keeps them published.
DEFAULT_WIRING: tuple[RoleWiring, ...] = (RoleWiring("PhotoNFT", "ESCROW_ROLE", "Gallery"),)

_HAS_ROLE = function_signature_to_4byte_selector("hasRole(bytes32,address)")
_GRANT_ROLE = function_signature_to_4byte_selector("grantRole(bytes32,address)")


@dataclass(frozen=True)
class Deployed:
    """A freshly deployed contract, before it is recorded."""

    address: str
    code_hash: str
    tx_hash: str
    block_number: int


class DeploymentService:
    """Idempotent deployment of the platform's contracts."""

    def __init__(
        self,
        context: PlatformContext,
        outbox: OutboxService,
        plans: tuple[ContractPlan, ...] = DEFAULT_PLANS,
        artifacts: Callable[[str], Artifact] = load_artifact,
        wiring: tuple[RoleWiring, ...] = DEFAULT_WIRING,
    ) -> None:
        self.context = context
        self.outbox = outbox
        self.plans = plans
        self.wiring = wiring
        self.artifacts = artifacts
        self._cancun_checked = False
        self._just_deployed = False

    def addresses(self, chain_id: int) -> dict[str, str]:
        """Recorded contract addresses on one chain, by contract name.

        Args:
            chain_id: The chain to look up.

        Returns:
            Contract name to checksummed address; empty when nothing is deployed there.
        """
        with self.context.unit_of_work() as session:
            records = DeploymentRepository(session).on_chain(chain_id)
            return {record.name: record.address for record in records}

    def blocks(self, chain_id: int) -> dict[str, int]:
        """The block each recorded contract on one chain was deployed in, by contract name.

        Args:
            chain_id: The chain to look up.

        Returns:
            Contract name to deployment block; empty when nothing is deployed there.
        """
        with self.context.unit_of_work() as session:
            records = DeploymentRepository(session).on_chain(chain_id)
            return {record.name: record.block_number for record in records}

    def deploy_all(self, signer: Signer) -> dict[str, str]:
        """Make sure every contract is deployed on the current chain, deploying what is missing.

        Args:
            signer: The operator key; pays for deployment and becomes each contract's admin.

        Returns:
            Contract name to checksummed address, for every planned contract.

        Raises:
            EvmVersionUnsupported: The chain cannot run cancun bytecode (nothing is sent).
            ConfigurationError: The node's chain id differs from the configured one.
            TransactionReverted, ChainError: A deployment transaction failed.
        """
        chain_id = self._chain_id()
        with _DEPLOY_LOCK:
            deployed: dict[str, str] = {}
            fresh: set[str] = set()
            for plan in self.plans:
                stale = sorted(fresh.intersection(plan.depends_on))
                address = self._ensure(plan, signer, chain_id, deployed, stale)
                if stale or self._just_deployed:
                    fresh.add(plan.name)
                deployed[plan.name] = address
            self._wire(signer, deployed)
            return deployed

    def _wire(self, signer: Signer, deployed: Mapping[str, str]) -> None:
        """Grant every planned role that is missing; wirings of unplanned contracts are skipped."""
        for wiring in self.wiring:
            contract, holder = deployed.get(wiring.contract), deployed.get(wiring.holder)
            if contract is not None and holder is not None:
                self._ensure_role(signer, wiring, contract, holder)

    def has_role(self, contract: str, role: bytes, account: str) -> bool:
        """AccessControl `hasRole(role, account)` on the contract at `contract`."""
        data = _HAS_ROLE + encode(["bytes32", "address"], [role, account])
        out = self.outbox.client.call({"to": contract, "data": "0x" + data.hex()})
        return bool(decode(["bool"], out)[0])

    def _ensure_role(self, signer: Signer, wiring: RoleWiring, contract: str, holder: str) -> None:
        """Send `grantRole` from the operator unless `holder` already has the role."""
        if self.has_role(contract, wiring.role_id, holder):
            return
        self.outbox.execute(
            signer=signer,
            intent=f"wire:{wiring.contract}.{wiring.role}",
            to=contract,
            data=_GRANT_ROLE + encode(["bytes32", "address"], [wiring.role_id, holder]),
            reference=f"wire:{wiring.contract}:{wiring.role}:{holder}",
            timeout_s=DEPLOY_TIMEOUT_S,
        )
        if not self.has_role(contract, wiring.role_id, holder):
            raise ChainError(
                f"{wiring.holder} at {holder} still lacks {wiring.role} on {wiring.contract}.",
                f"{holder}의 {wiring.holder}에 {wiring.contract}의 {wiring.role} 권한이 없습니다.",
            )
        log.info("granted %s on %s to %s (%s)", wiring.role, wiring.contract, wiring.holder, holder)

    def _chain_id(self) -> int:
        chain_id = self.outbox.client.chain_id()
        configured = self.context.settings.chain_id
        if chain_id != configured:
            raise ConfigurationError(
                f"The node reports chain id {chain_id}, but the platform is configured for "
                f"{configured}; refusing to deploy to the wrong network.",
                f"노드의 체인 ID는 {chain_id}이지만 설정은 {configured}입니다. "
                "다른 네트워크에 배포하지 않도록 중단합니다.",
            )
        return chain_id

    def _ensure(
        self,
        plan: ContractPlan,
        signer: Signer,
        chain_id: int,
        earlier: Mapping[str, str],
        stale: list[str],
    ) -> str:
        self._just_deployed = False
        artifact = self.artifacts(plan.name)
        with self.context.unit_of_work() as session:
            record = DeploymentRepository(session).get(chain_id, plan.name)
            recorded = None if record is None else (record.address, record.code_hash)
            recorded_source = None if record is None else record.source_hash
        if recorded is not None:
            address, code_hash = recorded
            why = self._why_redeploy(plan.name, chain_id, address, code_hash)
            if why is None and stale:
                why = f"it points at {', '.join(stale)}, which was just redeployed"
            if why is None:
                if recorded_source != artifact.source_hash:
                    log.warning(
                        "%s on chain %s at %s was built from older sources (%s, now %s); "
                        "keeping it: upgrading a live contract is a deliberate migration",
                        plan.name,
                        chain_id,
                        address,
                        recorded_source,
                        artifact.source_hash,
                    )
                return address
            log.warning("redeploying %s on chain %s: %s", plan.name, chain_id, why)
        deployed = self._deploy(plan, artifact, signer, earlier)
        self._just_deployed = True
        return self._record(plan.name, chain_id, artifact, deployed)

    def _code_at(self, address: str, block: str = "latest") -> bytes:
        code = self.outbox.client.request("eth_getCode", [address, block])
        return bytes.fromhex(str(code)[2:])

    def _why_redeploy(self, name: str, chain_id: int, address: str, code_hash: str) -> str | None:
        """None when the recorded contract is intact on chain, otherwise the reason."""
        code = self._code_at(address)
        if not code:
            return f"the recorded address {address} has no code (was the chain reset?)"
        actual = runtime_code_hash(code)
        if actual != code_hash:
            return f"the code at {address} has hash {actual}, not the recorded {code_hash}"
        return None

    def _require_cancun(self) -> None:
        if not self._cancun_checked:
            require_cancun(self.context.settings.node_rpc_url)
            self._cancun_checked = True

    def _deploy(
        self, plan: ContractPlan, artifact: Artifact, signer: Signer, earlier: Mapping[str, str]
    ) -> Deployed:
        """Send the deployment through the outbox and verify the code that landed."""
        self._require_cancun()
        outcome = self.outbox.execute(
            signer=signer,
            intent=f"deploy:{plan.name}",
            to=None,
            data=plan.init_code(artifact, signer.address, earlier),
            reference=f"deploy:{plan.name}:{artifact.source_hash[:16]}",
            timeout_s=DEPLOY_TIMEOUT_S,
        )
        if outcome.contract_address is None or outcome.block_number is None:
            raise ChainError(f"The deployment of {plan.name} ({outcome.tx_hash}) has no address.")
        address = str(to_checksum_address(outcome.contract_address))
        code = self._code_at(address, hex(outcome.block_number))
        if not artifact.matches_runtime(code):
            raise ChainError(
                f"The code deployed for {plan.name} at {address} does not match its artifact.",
                f"{address}에 배포된 {plan.name} 코드가 컴파일 결과와 다릅니다.",
            )
        log.info("deployed %s at %s (tx %s)", plan.name, address, outcome.tx_hash)
        return Deployed(address, runtime_code_hash(code), outcome.tx_hash, outcome.block_number)

    def _record(self, name: str, chain_id: int, artifact: Artifact, deployed: Deployed) -> str:
        """Insert or update the record; if another process won a race, keep its record."""
        try:
            with self.context.unit_of_work() as session:
                repo = DeploymentRepository(session)
                fields = {
                    "address": deployed.address,
                    "code_hash": deployed.code_hash,
                    "tx_hash": deployed.tx_hash,
                    "block_number": deployed.block_number,
                    "source_hash": artifact.source_hash,
                    "deployed_at": utcnow(),
                }
                record = repo.get(chain_id, name)
                if record is None:
                    repo.add(ContractDeployment(chain_id=chain_id, name=name, **fields))
                else:
                    for key, value in fields.items():
                        setattr(record, key, value)
            return deployed.address
        except IntegrityError:
            winner = self.addresses(chain_id)[name]
            log.warning(
                "%s was deployed concurrently; keeping %s, %s is unused",
                name,
                winner,
                deployed.address,
            )
            return winner
