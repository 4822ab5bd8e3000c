"""Channel state (active / paused / needs_credentials / throttled) and stored tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from syndicator import secretbox
from syndicator.errors import SyndicatorError
from syndicator.storage.base import StorageBase
from syndicator.storage.models import ChannelStateRow, ChannelTokenRow

ACTIVE, PAUSED, NEEDS_CREDENTIALS = "active", "paused", "needs_credentials"
_C = ChannelStateRow
_STATES = select(_C.channel, _C.status, _C.reason, _C.blocked_until, _C.updated_at, _C.updated_by)


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    channel: str
    status: str
    reason: str | None
    blocked_until: datetime | None
    updated_at: datetime | None
    updated_by: str | None

    def can_publish(self, now: datetime) -> bool:
        return self.status == ACTIVE and (self.blocked_until is None or self.blocked_until <= now)


@dataclass(frozen=True, slots=True)
class StoredTokens:
    access_token: str | None
    refresh_token: str | None
    access_expires_at: datetime | None
    refresh_obtained_at: datetime | None
    encrypted: bool


class ChannelsMixin(StorageBase):
    # Set by the composition root from [security] allow_plaintext_tokens.
    allow_plaintext_tokens: bool = False

    def channel_status(self, channel: str) -> ChannelStatus:
        with self._read() as session:
            row = session.get(ChannelStateRow, channel)
            if row is None:
                return ChannelStatus(channel, ACTIVE, None, None, None, None)
            return ChannelStatus(
                row.channel,
                row.status,
                row.reason,
                row.blocked_until,
                row.updated_at,
                row.updated_by,
            )

    def set_channel_status(
        self,
        channel: str,
        status: str,
        *,
        reason: str | None,
        actor: str,
        now: datetime,
        only_from: tuple[str, ...] | None = None,
    ) -> bool:
        """Change a channel's state (audited); False when it was not in `only_from` or unchanged."""
        with self._write() as session:
            row = session.get(ChannelStateRow, channel)
            if row is None:
                row = ChannelStateRow(channel=channel, status=ACTIVE, updated_at=now)
                session.add(row)
            if only_from is not None and row.status not in only_from:
                return False
            if row.status == status and row.reason == reason:
                return False
            before = row.status
            row.status, row.reason, row.updated_at, row.updated_by = status, reason, now, actor
            self._audit(
                session,
                f"channel.{status}",
                actor=actor,
                subject=f"channel:{channel}",
                data={"from": before, "reason": reason},
                now=now,
            )
            return True

    def set_channel_blocked(self, channel: str, until: datetime | None, now: datetime) -> None:
        """Throttled by the service: no calls to this channel before `until` (not audited)."""
        with self._write() as session:
            row = session.get(ChannelStateRow, channel)
            if row is None:
                row = ChannelStateRow(channel=channel, status=ACTIVE, updated_at=now)
                session.add(row)
            row.blocked_until = until

    def channel_statuses(self) -> dict[str, ChannelStatus]:
        """Every channel's state. A Core read: the health snapshot asks each second, and
        the ORM's session and identity map were most of its cost (issue 11)."""
        rows = self._read_rows(_STATES, {}, scalars=False)
        return {row[0]: ChannelStatus(*row) for row in rows}

    # -- tokens -----------------------------------------------------------------------------

    def load_tokens(self, channel: str) -> StoredTokens | None:
        with self._read() as session:
            row = session.get(ChannelTokenRow, channel)
            if row is None:
                return None
            return StoredTokens(
                secretbox.unseal(row.access_token),
                secretbox.unseal(row.refresh_token),
                row.access_expires_at,
                row.refresh_obtained_at,
                secretbox.is_sealed(row.access_token) or secretbox.is_sealed(row.refresh_token),
            )

    def unreadable_tokens(self) -> dict[str, str]:
        """Channels whose stored tokens cannot be decrypted now, with the reason."""
        with self._read() as session:
            rows = [(r.channel, r.access_token, r.refresh_token)
                    for r in session.scalars(select(ChannelTokenRow))]  # fmt: skip
        bad: dict[str, str] = {}
        for channel, *values in rows:
            try:
                for value in values:
                    secretbox.unseal(value)
            except Exception as exc:  # StorageError, ConfigError (a too short key): the reason
                bad[channel] = str(exc)
        return bad

    def require_readable_tokens(self) -> None:
        """Refuse (SyndicatorError naming each channel and the fix) when a stored token cannot be
        decrypted now: `run` checks this first, or the publisher would crash on it in a loop."""
        bad = self.unreadable_tokens()
        if bad:
            lines = "; ".join(
                f"channel {name!r}: {why} — fix: the SYNDICATOR_SECRET_KEY the tokens were "
                f"stored with, or a new token with `syndicator channels set-token {name}`"
                for name, why in sorted(bad.items())
            )
            raise SyndicatorError(f"stored tokens cannot be read: {lines}")

    def save_tokens(
        self,
        channel: str,
        *,
        access_token: str | None,
        refresh_token: str | None,
        access_expires_at: datetime | None,
        refresh_obtained_at: datetime | None,
        now: datetime,
        audit_as: str | None = None,
        actor: str = "publisher",
    ) -> None:
        """Store (sealed) tokens; committed when this returns. Audits only the fact, never values.

        Without SYNDICATOR_SECRET_KEY this raises ConfigError (nothing written) unless plain
        storage is allowed."""
        secretbox.require_key(self.allow_plaintext_tokens)
        with self._write() as session:
            row = session.get(ChannelTokenRow, channel)
            if row is None:
                row = ChannelTokenRow(channel=channel, updated_at=now)
                session.add(row)
            row.access_token = secretbox.seal(access_token)
            row.refresh_token = secretbox.seal(refresh_token)
            row.access_expires_at, row.refresh_obtained_at = access_expires_at, refresh_obtained_at
            row.updated_at = now
            if audit_as:
                self._audit(
                    session,
                    audit_as,
                    actor=actor,
                    subject=f"channel:{channel}",
                    data={
                        "access_expires_at": access_expires_at,
                        "encrypted": secretbox.passphrase() is not None,
                    },
                    now=now,
                )
