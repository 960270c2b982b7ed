"""Sign-In with Ethereum (EIP-4361) messages: building, parsing and checking.

Pure functions; the nonce bookkeeping is in the accounts service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct

from busanchain.domain.addresses import parse_address
from busanchain.domain.errors import PermissionDenied, ValidationFailed

STATEMENT = "Link this wallet to my busanchain account. 이 지갑을 부산체인 계정에 연결합니다."
CLOCK_SKEW = timedelta(minutes=2)

_MESSAGE_RE = re.compile(
    r"^(?P<domain>[^\s/]+) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n"
    r"\n"
    r"(?:(?P<statement>[^\n]+)\n)?"
    r"\n"
    r"URI: (?P<uri>[^\s]+)\n"
    r"Version: (?P<version>1)\n"
    r"Chain ID: (?P<chain_id>[0-9]{1,20})\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,64})\n"
    r"Issued At: (?P<issued_at>[0-9T:.+\-Z]{20,40})"
    r"(?:\nExpiration Time: (?P<expiration>[0-9T:.+\-Z]{20,40}))?"
    r"(?:\nNot Before: (?P<not_before>[0-9T:.+\-Z]{20,40}))?"
    r"(?:\nRequest ID: (?P<request_id>[^\n]*))?"
    r"(?:\nResources:(?P<resources>(?:\n- [^\n]+)+))?$"
)


class SiweRejected(PermissionDenied):
    """The SIWE message or signature does not prove control of the wallet for this site."""

    code = "siwe_rejected"
    default_ko = "지갑 서명을 확인할 수 없습니다."
    default_en = "The wallet signature could not be verified."


@dataclass(frozen=True)
class SiweMessage:
    """The fields of an EIP-4361 message this platform issues and accepts."""

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None
    statement: str | None = STATEMENT
    not_before: datetime | None = None

    def text(self) -> str:
        """The exact text the wallet signs (EIP-4361 ABNF)."""
        lines = [
            f"{self.domain} wants you to sign in with your Ethereum account:",
            self.address,
            "",
        ]
        if self.statement:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            "Version: 1",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {_iso(self.issued_at)}",
        ]
        if self.expiration_time:
            lines.append(f"Expiration Time: {_iso(self.expiration_time)}")
        return "\n".join(lines)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("A SIWE time field is not RFC 3339.") from None
    if moment.tzinfo is None:
        raise ValidationFailed("A SIWE time field has no time zone.")
    return moment


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message; ValidationFailed if it is not one."""
    match = _MESSAGE_RE.match(text)
    if match is None:
        raise ValidationFailed(
            "This is not a Sign-In with Ethereum (EIP-4361) message.",
            "이더리움 로그인(EIP-4361) 메시지 형식이 아닙니다.",
        )
    fields = match.groupdict()
    return SiweMessage(
        domain=fields["domain"],
        address=parse_address(fields["address"]),
        uri=fields["uri"],
        chain_id=int(fields["chain_id"]),
        nonce=fields["nonce"],
        issued_at=_parse_time(fields["issued_at"]),
        expiration_time=_parse_time(fields["expiration"]) if fields["expiration"] else None,
        statement=fields["statement"],
        not_before=_parse_time(fields["not_before"]) if fields["not_before"] else None,
    )


def check_message(
    message: SiweMessage, *, domain: str, uri: str, chain_id: int, now: datetime
) -> None:
    """Check the site-bound fields and the time window; SiweRejected if any is wrong."""
    if message.domain != domain:
        raise SiweRejected("The message was made for another site.", "다른 사이트의 메시지입니다.")
    if message.uri != uri:
        raise SiweRejected("The message URI is not this site.", "메시지의 URI가 다릅니다.")
    if message.chain_id != chain_id:
        raise SiweRejected("The message is for another chain.", "다른 체인의 메시지입니다.")
    if message.issued_at > now + CLOCK_SKEW:
        raise SiweRejected("The message is issued in the future.", "발급 시각이 미래입니다.")
    if message.expiration_time is not None and message.expiration_time <= now:
        raise SiweRejected("The message has expired.", "메시지가 만료되었습니다.")
    if message.not_before is not None and message.not_before > now + CLOCK_SKEW:
        raise SiweRejected("The message is not valid yet.", "아직 유효하지 않은 메시지입니다.")


def recover_signer(text: str, signature: str) -> str:
    """The checksummed address that signed `text` (EIP-191 personal_sign)."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # eth_keys raises several types for malformed signatures
        raise SiweRejected(
            "The signature is malformed.", "서명 형식이 올바르지 않습니다."
        ) from None
