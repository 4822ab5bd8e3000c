"""Zalo OA access tokens from a single-use, rotating refresh token (api-notes 2.3).

Rules this module keeps:
1. One refresh at a time per channel (an asyncio.Lock), and a coroutine that waited on the
   lock uses the pair the other one obtained instead of refreshing again.
2. The rotated pair is saved to the TokenStore before the new access token is handed out.
   If saving fails, the pair stays in memory, is not used, and saving is retried first on
   the next call, so the only copy of the new refresh token is not thrown away.
3. Refresh early: when less than min(refresh_margin, half the token's lifetime) is left,
   so a 25-hour token is renewed an hour before expiry and a 1-hour token at half-time.
4. A refresh whose answer was lost is tried once more with the same refresh token (if Zalo
   never saw the first, it still works); if Zalo says it is spent, a human must re-authorise.
5. Refresh tokens are single-use across every process sharing the database (api-notes 0):
   before refreshing, the stored pair is read again (another process, or `channels
   set-token`, may have rotated it), and a refusal of a spent token is answered by using the
   newer pair the database holds, if it holds one.
6. Only the daemon (its leader) refreshes. `may_refresh=False` (what `channels check` uses)
   uses the stored access token as it is and never spends a stored refresh token; only when
   no pair is stored at all does it make the first refresh, which invalidates nobody's pair.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from channels.base import Clock, TokenSet, TokenStore
from channels.http import json_body, send
from syndicator.errors import AmbiguousError, CredentialsError, TemporaryError

ACCESS_TOKEN_PATH = "/v4/oa/access_token"
REAUTHORISE = "re-authorise the OA: `syndicator channels set-token {name}`"


class ZaloTokens:
    """The current access token of one OA, refreshed as needed."""

    def __init__(
        self,
        channel: str,
        *,
        client: httpx.AsyncClient,
        store: TokenStore,
        clock: Clock,
        oauth_base: str,
        app_id: str,
        secret_key: str,
        initial_refresh_token: str,
        refresh_margin: timedelta,
        timeout: float,
        may_refresh: bool = True,
    ) -> None:
        self.channel = channel
        self.client = client
        self.store = store
        self.clock = clock
        self.url = oauth_base.rstrip("/") + ACCESS_TOKEN_PATH
        self.app_id = app_id
        self.secret_key = secret_key
        self.initial_refresh_token = initial_refresh_token
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self.may_refresh = may_refresh
        self._tokens: TokenSet | None = None
        self._unsaved: TokenSet | None = None
        self._loaded = False
        self._lock = asyncio.Lock()

    @property
    def current(self) -> TokenSet | None:
        """The pair in use (None before the first call)."""
        return self._tokens

    async def access_token(self) -> str:
        """A usable access token, refreshing first when it is missing or due."""
        self._load()
        tokens = self._tokens
        if not self.may_refresh and tokens is not None:
            return self._read_only(tokens)
        # With no pair stored anywhere yet, nobody holds one that a refresh could spend: the
        # first refresh (with the configured token) is safe, and its pair is stored for all.
        if tokens is None or self._unsaved is not None or self._due(tokens):
            tokens = await self._refresh(stale=tokens.access_token if tokens else None)
        return tokens.access_token

    def _read_only(self, tokens: TokenSet | None) -> str:
        """The stored access token, for a caller that must not refresh."""
        if tokens is None:
            raise CredentialsError(
                self.channel,
                "no access token stored yet; the daemon obtains one at its first publish "
                "(or " + REAUTHORISE.format(name=self.channel) + ")",
            )
        expires = tokens.access_expires_at
        if expires is not None and self.clock() >= expires:
            raise TemporaryError(
                self.channel,
                f"the stored access token expired at {expires:%Y-%m-%d %H:%M} UTC; the running "
                "daemon renews it (this check never spends the single-use refresh token)",
            )
        return tokens.access_token

    async def replace_rejected(self, rejected: str) -> str:
        """After an auth error with `rejected`: refresh (unless someone already did) and
        return the new access token."""
        if not self.may_refresh:
            stored = self.store.load(self.channel)
            if stored is not None and stored.access_token != rejected:
                self._tokens = stored
                return stored.access_token
            raise CredentialsError(
                self.channel,
                "Zalo refused the stored access token; the running daemon renews it "
                "(this check never refreshes)",
            )
        return (await self._refresh(stale=rejected)).access_token

    def _load(self) -> None:
        if not self._loaded:
            self._tokens = self.store.load(self.channel)
            self._loaded = True

    def _due(self, tokens: TokenSet) -> bool:
        if tokens.access_expires_at is None:
            return False  # Zalo always sends expires_in; an unknown expiry is refreshed on -216
        lifetime = tokens.access_expires_at - tokens.refresh_obtained_at
        early = min(self.refresh_margin, lifetime / 2)
        return self.clock() >= tokens.access_expires_at - early

    async def _refresh(self, *, stale: str | None) -> TokenSet:
        async with self._lock:
            if self._unsaved is not None:
                self._save(self._unsaved)
            else:
                self._adopt_stored()  # rule 5: another process may have rotated the pair
            current = self._tokens
            if current is not None and current.access_token != stale and not self._due(current):
                return current  # someone refreshed while we waited for the lock
            refresh_token = current.refresh_token if current else self.initial_refresh_token
            try:
                body = await self._post_refresh(refresh_token)
                tokens = self._parse(body, refresh_token)
            except CredentialsError:
                newer = self._adopt_stored()
                if newer is not None and newer.refresh_token != refresh_token:
                    return newer  # ours was spent by whoever stored this pair: use theirs
                raise
            self._save(tokens)
            return tokens

    def _adopt_stored(self) -> TokenSet | None:
        """Take the stored pair when it is newer than the one in memory; return it if so."""
        try:
            stored = self.store.load(self.channel)
        except Exception:
            return None  # storage trouble: refresh with what we hold, as before
        current = self._tokens
        if stored is None:
            return None
        if (
            current is None
            or stored.refresh_obtained_at > current.refresh_obtained_at
            or (
                stored.refresh_token != current.refresh_token
                and stored.refresh_obtained_at >= current.refresh_obtained_at
            )
        ):
            self._tokens = stored
            return stored
        return None

    async def _post_refresh(self, refresh_token: str) -> dict[str, Any]:
        form = {
            "refresh_token": refresh_token,
            "app_id": self.app_id,
            "grant_type": "refresh_token",
        }
        for attempt in (1, 2):
            try:
                response = await send(
                    self.client,
                    self.channel,
                    "POST",
                    self.url,
                    creates=True,
                    timeout=self.timeout,
                    what="refresh the access token",
                    data=form,
                    headers={"secret_key": self.secret_key},
                )
            except AmbiguousError as exc:
                if attempt == 2:
                    raise TemporaryError(self.channel, exc.message) from exc
                continue  # rule 4: the same refresh token once more
            body = json_body(response)
            if not isinstance(body, dict):
                raise TemporaryError(
                    self.channel, f"token refresh: HTTP {response.status_code} without JSON"
                )
            if not body.get("access_token") and attempt == 2:
                reason = body.get("error_description") or body.get("error_name") or body
                raise CredentialsError(
                    self.channel,
                    f"the refresh token was probably spent by a refresh whose answer was lost "
                    f"({reason}); {REAUTHORISE.format(name=self.channel)}",
                    code=body.get("error"),
                )
            return body
        raise AssertionError("unreachable")

    def _parse(self, body: dict[str, Any], old_refresh: str) -> TokenSet:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            reason = body.get("error_description") or body.get("error_name") or "no access_token"
            raise CredentialsError(
                self.channel,
                f"token refresh refused ({body.get('error')}: {reason}); "
                + REAUTHORISE.format(name=self.channel),
                code=body.get("error"),
            )
        now = self.clock()
        try:
            expires_at = now + timedelta(seconds=int(str(body.get("expires_in"))))
        except ValueError:
            expires_at = None
        # Zalo always rotates; should it ever not, the old refresh token is all we have.
        refresh = body.get("refresh_token") or old_refresh
        return TokenSet(access, str(refresh), expires_at, now)

    def _save(self, tokens: TokenSet) -> None:
        self._unsaved = tokens
        try:
            self.store.save(self.channel, tokens)
        except Exception as exc:
            raise TemporaryError(
                self.channel, f"could not store the rotated tokens ({exc!r}); will retry"
            ) from exc
        self._unsaved = None
        self._tokens = tokens
