"""Encrypting tokens at rest with a key derived from SYNDICATOR_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key derived by scrypt from the
passphrase and a random per-value salt. Without a passphrase, values are stored marked plain,
and the operator is told so by `syndicator channels check`.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from syndicator.errors import ConfigError, StorageError

ENV = "SYNDICATOR_SECRET_KEY"
MIN_LENGTH = 16
_PLAIN = "plain:"
_SEALED = "fernet1:"


def passphrase() -> str | None:
    value = os.environ.get(ENV)
    if value is None or value == "":
        return None
    if len(value) < MIN_LENGTH:
        raise ConfigError(f"{ENV} must be at least {MIN_LENGTH} characters long")
    return value


@functools.lru_cache(maxsize=64)
def _fernet(secret: str, salt: bytes) -> Fernet:
    kdf = Scrypt(salt=salt, length=32, n=2**14, r=8, p=1)
    return Fernet(base64.urlsafe_b64encode(kdf.derive(secret.encode("utf-8"))))


def seal(value: str | None) -> str | None:
    if value is None:
        return None
    secret = passphrase()
    if secret is None:
        return _PLAIN + value
    salt = os.urandom(16)
    token = _fernet(secret, salt).encrypt(value.encode("utf-8")).decode("ascii")
    return f"{_SEALED}{base64.urlsafe_b64encode(salt).decode('ascii')}:{token}"


def unseal(stored: str | None) -> str | None:
    if stored is None:
        return None
    if stored.startswith(_PLAIN):
        return stored[len(_PLAIN) :]
    if not stored.startswith(_SEALED):
        raise StorageError("a stored token has an unknown format")
    secret = passphrase()
    if secret is None:
        raise StorageError(f"stored tokens are encrypted: set {ENV} to the passphrase used")
    salt_b64, token = stored[len(_SEALED) :].split(":", 1)
    try:
        return _fernet(secret, base64.urlsafe_b64decode(salt_b64)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise StorageError(f"cannot decrypt a stored token: wrong {ENV}?") from exc


def is_sealed(stored: str | None) -> bool:
    return bool(stored and stored.startswith(_SEALED))
