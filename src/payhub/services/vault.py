"""The credential vault: gateway credentials encrypted at rest.

AES-256-GCM with a random 96-bit nonce; the associated data binds each ciphertext to its
gateway-account row, so a ciphertext copied onto another row fails to decrypt. The key is
derived with HKDF-SHA256 from `PAYHUB_MASTER_KEY` (32 random bytes, base64); its key id (a
fingerprint of the derived key) is stored beside each ciphertext so `payhub keys rotate` can
re-encrypt rows under a new master key (`reencrypt`, for every column in
`store.encrypted.ENCRYPTED_COLUMNS`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from payhub.errors import VaultError as VaultError
from payhub.secret import Secret

NONCE_BYTES = 12
_HKDF_INFO = b"payhub gateway credentials v1"


class MasterKey:
    """A derived data-encryption key and its id. Never printed."""

    __slots__ = ("_key", "key_id")

    def __init__(self, master_key_b64: str) -> None:
        try:
            raw = base64.b64decode(master_key_b64, validate=True)
        except (binascii.Error, ValueError):
            raise VaultError("PAYHUB_MASTER_KEY is not valid base64") from None
        if len(raw) != 32:
            raise VaultError("PAYHUB_MASTER_KEY must decode to exactly 32 bytes")
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"payhub-vault", info=_HKDF_INFO
        ).derive(raw)
        self.key_id = "k_" + hashlib.sha256(b"key-id" + self._key).hexdigest()[:16]

    def aead(self) -> AESGCM:
        return AESGCM(self._key)

    def derive(self, label: bytes) -> bytes:
        """An independent 32-byte key for another purpose (e.g. hosted-checkout links)."""
        return hmac.new(self._key, b"payhub derive:" + label, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def generate_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _associated_data(account_id: str) -> bytes:
    return f"gateway_account:{account_id}".encode()


def encrypt_credentials(
    key: MasterKey, account_id: str, credentials: Mapping[str, str]
) -> tuple[bytes, str]:
    """Encrypt a credentials mapping for one account row; returns (blob, key id)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    plaintext = json.dumps(dict(credentials), sort_keys=True).encode("utf-8")
    blob = nonce + key.aead().encrypt(nonce, plaintext, _associated_data(account_id))
    return blob, key.key_id


def decrypt_credentials(
    keys: Mapping[str, MasterKey], account_id: str, blob: bytes, key_id: str
) -> dict[str, Secret]:
    """Decrypt; raises VaultError loudly on an unknown key or any tampering."""
    data = json.loads(_open(keys, account_id, blob, key_id))
    return {name: Secret(str(value)) for name, value in data.items()}


def _open(keys: Mapping[str, MasterKey], subject: str, blob: bytes, key_id: str) -> bytes:
    key = keys.get(key_id)
    if key is None:
        raise VaultError(f"ciphertext of {subject} is under key {key_id}, not loaded")
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        return key.aead().decrypt(nonce, ciphertext, _associated_data(subject))
    except InvalidTag:
        raise VaultError(
            f"ciphertext of {subject} failed authentication "
            "(tampered, moved to another row, or wrong master key)"
        ) from None


def reencrypt(
    keys: Mapping[str, MasterKey], key: MasterKey, subject: str, blob: bytes, key_id: str
) -> tuple[bytes, str]:
    """The same plaintext under `key` with a fresh nonce, still bound to `subject`; the
    plaintext is never parsed, so any encrypted column can be rotated."""
    plaintext = _open(keys, subject, blob, key_id)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + key.aead().encrypt(nonce, plaintext, _associated_data(subject)), key.key_id
