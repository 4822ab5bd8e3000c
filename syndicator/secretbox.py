"""Encrypting tokens at rest with a key derived from SYNDICATOR_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key derived by scrypt from the
passphrase and a random per-value salt. Without a passphrase nothing is stored unless the
config says `[security] allow_plaintext_tokens = true` (then values are stored marked plain);
the demo and the sandbox use a throwaway key instead (`throwaway_key`).
"""

from __future__ import annotations

import base64
import functools
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from syndicator.errors import ConfigError, StorageError

ENV = "SYNDICATOR_SECRET_KEY"
MIN_LENGTH = 16
# The value shipped in deploy/syndicator.env.example: a copy-pasted example is not a secret.
PLACEHOLDER = "change-me-to-a-long-random-passphrase"
_PLAIN = "plain:"
_SEALED = "fernet1:"


def passphrase() -> str | None:
    value = os.environ.get(ENV)
    if value is None or value == "":
        return None
    if len(value) < MIN_LENGTH:
        raise ConfigError(
            f"{ENV} must be at least {MIN_LENGTH} characters long (openssl rand -base64 32)"
        )
    if value == PLACEHOLDER:
        raise ConfigError(
            f"{ENV} is still the placeholder of deploy/syndicator.env.example: "
            "set a random one (openssl rand -base64 32)"
        )
    return value


def require_key(allow_plaintext: bool) -> None:
    """Refuse to go on when tokens would be stored unencrypted without the config allowing it."""
    if passphrase() is None and not allow_plaintext:
        raise ConfigError(
            f"{ENV} is not set, so tokens would be stored unencrypted: set it (at least "
            f"{MIN_LENGTH} characters, openssl rand -base64 32) or, knowingly, "
            "[security] allow_plaintext_tokens = true"
        )


def throwaway_key(path: Path) -> str:
    """A random key kept in `path` (mode 0600) for the sandbox and demo databases, so a rerun
    on the same database can still read what it stored."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    key = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


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
        raise StorageError(f"cannot decrypt a stored token with this {ENV}") from exc


def is_sealed(stored: str | None) -> bool:
    return bool(stored and stored.startswith(_SEALED))
