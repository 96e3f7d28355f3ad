"""Secrets that must be recoverable (a webhook's signing secret), sealed at rest.

AES-256-GCM under a key derived with HKDF from the service's pepper and a label
of its own, so this key is never the one that hashes tokens. The endpoint's id
is bound in as associated data: a ciphertext copied onto another row does not
open there. Rotating the pepper makes every sealed secret unreadable, as it
makes every token unknown: endpoints must then be added again.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_NONCE_BYTES = 12


class SealedSecretError(Exception):
    """A sealed secret does not open: another pepper, another row, or damaged."""


class SecretBox:
    def __init__(self, pepper: bytes, *, label: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(pepper)
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, bound_to: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), bound_to.encode())
        return f"{VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, bound_to: str) -> str:
        version, _, encoded = sealed.partition(":")
        if version != VERSION:
            raise SealedSecretError(f"unknown sealing version {version[:8]!r}")
        raw = base64.urlsafe_b64decode(encoded)
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode())
        except InvalidTag:
            raise SealedSecretError("the sealed secret does not open with this pepper") from None
        return plain.decode()
