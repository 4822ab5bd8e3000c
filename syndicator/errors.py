"""The exception hierarchy. Every error names what failed and chains its cause."""

from __future__ import annotations


class SyndicatorError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(SyndicatorError):
    """The configuration file is missing, unreadable or invalid."""


class UsageError(SyndicatorError):
    """A command was asked for something it cannot do (a bad option value, an unknown id).
    Printed as "error: ...": "config error:" is kept for the configuration file."""


class StorageError(SyndicatorError):
    """The database could not do what was asked."""


class SourceError(SyndicatorError):
    """A source could not be fetched or parsed."""

    def __init__(self, source_id: str, message: str) -> None:
        super().__init__(f"{source_id}: {message}")
        self.source_id = source_id
        self.message = message


class PublishError(SyndicatorError):
    """A channel call failed. Subclasses say whether it may be retried."""

    def __init__(self, channel: str, message: str, *, code: int | str | None = None) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.message = message
        self.code = code


class TemporaryError(PublishError):
    """Transient: retry with backoff."""

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        code: int | str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(channel, message, code=code)
        self.retry_after = retry_after


class ThrottledError(TemporaryError):
    """The service asked us to slow down; wait retry_after seconds before any call."""


class PermanentError(PublishError):
    """Never retried: the post fails with the service's message."""


class CredentialsError(PermanentError):
    """The token is dead or lacks permission: the channel pauses until a human fixes it."""


class AmbiguousError(PublishError):
    """The outcome is unknown (timeout, reset, 5xx without a body): reconcile before retrying."""
