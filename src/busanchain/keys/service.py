"""Custodial keys and sealed per-user fields: creation, use, and KEK rotation.

Plaintext keys exist only in local variables for the shortest time needed; they are never
logged, never put in exceptions, never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from coincurve import PrivateKey
from eth_utils import keccak, to_checksum_address
from sqlalchemy.orm import Session

from busanchain.chain.signing import Signer, signer_from_key
from busanchain.domain.errors import NotFound
from busanchain.keys import repository
from busanchain.keys.envelope import Envelope, open_envelope, seal
from busanchain.keys.kek import KekProvider, KeyUnavailable, load_kek
from busanchain.keys.tables import CustodialKey, SealedColumns, SealedField
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

AAD_VERSION = 1
SERVICE_NAME = "keys"


def _address_of(secret: bytes) -> str:
    public = PrivateKey(secret).public_key.format(compressed=False)[1:]
    return str(to_checksum_address(keccak(public)[-20:]))


def _key_aad(row: CustodialKey) -> bytes:
    return row.sealed_aad()


def _field_aad(row: SealedField) -> bytes:
    return row.sealed_aad()


def _aad(row: SealedColumns) -> bytes:
    return row.sealed_aad()


def _envelope(row: SealedColumns) -> Envelope:
    return Envelope(row.kek_id, row.wrapped_dek, row.nonce, row.ciphertext)


def _store(row: SealedColumns, envelope: Envelope) -> None:
    row.kek_id = envelope.kek_id
    row.wrapped_dek = envelope.wrapped_dek
    row.nonce = envelope.nonce
    row.ciphertext = envelope.ciphertext


class KeyService:
    """Seals and opens per-user secrets under the current KEK.

    `retired` KEKs may still open rows (during or after an interrupted rotation) but never
    seal new ones.
    """

    def __init__(
        self, context: PlatformContext, kek: KekProvider, retired: Sequence[KekProvider] = ()
    ) -> None:
        self._context = context
        self._kek = kek
        self._retired = [k for k in retired if k.key_id != kek.key_id]

    @property
    def kek_id(self) -> str:
        """The id of the KEK that seals new rows."""
        return self._kek.key_id

    def _keyring(self) -> list[KekProvider]:
        return [self._kek, *self._retired]

    # -- custodial keys -------------------------------------------------------------------

    def create_custodial_key(self, session: Session, user_id: int) -> str:
        """Generate and seal a new secp256k1 key for a user, inside the caller's transaction.

        Args:
            session: The caller's unit of work (the user row must exist in it).
            user_id: The owner.

        Returns:
            The new checksummed address.
        """
        secret = PrivateKey().secret
        row = CustodialKey(user_id=user_id, address=_address_of(secret), version=AAD_VERSION)
        _store(row, seal(self._kek, secret, _key_aad(row)))
        del secret
        session.add(row)
        session.flush()
        log.info("created custodial key for user %s at %s", user_id, row.address)
        return row.address

    def custodial_address(self, user_id: int) -> str | None:
        """The user's custodial address, or None if the user has no key."""
        with self._context.unit_of_work() as session:
            row = repository.custodial_key_for_user(session, user_id)
            return row.address if row else None

    def _decrypt_private_key(self, session: Session, user_id: int) -> bytes:
        """The user's 32-byte private key; callers must drop it as soon as they are done."""
        row = repository.custodial_key_for_user(session, user_id)
        if row is None:
            raise NotFound("This user has no custodial key.", "이 사용자에게는 보관 키가 없습니다.")
        secret = open_envelope(self._keyring(), _envelope(row), _key_aad(row))
        if _address_of(secret) != row.address:
            raise KeyUnavailable(user_id=user_id)
        return secret

    def signer_for_user(self, user_id: int) -> Signer:
        """A signer for the user's custodial key (the key lives only inside the signer).

        Raises:
            NotFound: the user has no custodial key.
            KeyUnavailable: the row cannot be opened with the configured KEKs.
        """
        with self._context.unit_of_work() as session:
            return self.signer_in(session, user_id)

    def signer_in(self, session: Session, user_id: int) -> Signer:
        """`signer_for_user` inside the caller's transaction (it sees a key made in it)."""
        secret = self._decrypt_private_key(session, user_id)
        try:
            return signer_from_key(secret.hex())
        finally:
            del secret

    def signer_for_address(self, address: str) -> Signer | None:
        """A signer for the custodial key at `address`, or None if no user holds that address.

        The reconciler uses it to re-sign (replace) a stuck transaction sent from a custodial
        account, such as a merchant's refund.
        """
        with self._context.unit_of_work() as session:
            row = repository.custodial_key_by_address(session, to_checksum_address(address))
            user_id = row.user_id if row else None
        return None if user_id is None else self.signer_for_user(user_id)

    def open_row(self, row: SealedColumns) -> bytes:
        """Open any sealed row (current or retired KEK); the caller drops the plaintext."""
        return open_envelope(self._keyring(), _envelope(row), _aad(row))

    def seal_row(self, row: SealedColumns, plaintext: bytes) -> None:
        """Seal `plaintext` into any sealed row under the current KEK, bound to its AAD."""
        _store(row, seal(self._kek, plaintext, _aad(row)))

    # -- sealed fields --------------------------------------------------------------------

    def put_field(self, session: Session, user_id: int, field: str, value: str | None) -> None:
        """Seal (or, with None, delete) one per-user field inside the caller's transaction."""
        if value is None:
            repository.delete_sealed_field(session, user_id, field)
            return
        row = repository.sealed_field(session, user_id, field)
        if row is None:
            row = SealedField(user_id=user_id, field=field, version=AAD_VERSION)
            session.add(row)
        row.version = AAD_VERSION
        _store(row, seal(self._kek, value.encode("utf-8"), _field_aad(row)))
        session.flush()

    def get_field(self, session: Session, user_id: int, field: str) -> str | None:
        """Open one sealed per-user field, or None if it is not set."""
        row = repository.sealed_field(session, user_id, field)
        if row is None:
            return None
        return open_envelope(self._keyring(), _envelope(row), _field_aad(row)).decode("utf-8")

    # -- rotation -------------------------------------------------------------------------

    def rotate(self, new_kek: KekProvider, batch_size: int = 200) -> int:
        """Re-encrypt every sealed row under `new_kek`, one transaction per batch.

        Each row gets a fresh data key wrapped by the new KEK. Rows already under the new
        KEK are skipped, so an interrupted rotation is finished by running it again. After
        it returns, this service seals with `new_kek` and keeps the old KEK only to read.

        Args:
            new_kek: The KEK to move to.
            batch_size: Rows per transaction.

        Returns:
            The number of rows re-encrypted.
        """
        keyring = [new_kek, *self._keyring()]
        total = 0
        for model in repository.sealed_models():
            while True:
                done = self._rotate_batch(model, keyring, new_kek, batch_size)
                total += done
                if done == 0:
                    break
        self._retired = [k for k in self._keyring() if k.key_id != new_kek.key_id]
        self._kek = new_kek
        log.info("re-encrypted %d sealed rows under KEK %s", total, new_kek.key_id)
        return total

    def _rotate_batch(
        self,
        model: type[SealedColumns],
        keyring: list[KekProvider],
        new_kek: KekProvider,
        batch_size: int,
    ) -> int:
        with self._context.unit_of_work() as session:
            rows = repository.rows_not_under_kek(session, model, new_kek.key_id, batch_size)
            for row in rows:
                aad = _aad(row)
                plaintext = open_envelope(keyring, _envelope(row), aad)
                _store(row, seal(new_kek, plaintext, aad))
                del plaintext
            return len(rows)


def key_service_for(context: PlatformContext) -> KeyService:
    """The process's KeyService for a context, built on first use from the settings."""
    service = context.services.get(SERVICE_NAME)
    if service is None:
        service = KeyService(context, load_kek(context.settings))
        context.services[SERVICE_NAME] = service
    return service  # type: ignore[no-any-return]
