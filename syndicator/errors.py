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
    """The outcome is unknown (timeout, reset, 5xx, Graph 1/2 on a create): reconcile first.

    `duplicate` is the channel's hint that the service refused the post as a repeat of one it
    already has (Graph 506), i.e. an earlier attempt most likely went through.
    """

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        code: int | str | None = None,
        duplicate: bool = False,
    ) -> None:
        super().__init__(channel, message, code=code)
        self.duplicate = duplicate


class ChannelBlockedError(PublishError):
    """The service blocked the account for a while (Graph 368): nothing was created; the
    channel pauses for `retry_after` seconds and admins are told. `duplicate` when the block
    was for repeated content, which means an earlier attempt may have gone through."""

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        code: int | str | None = None,
        retry_after: float,
        duplicate: bool = False,
    ) -> None:
        super().__init__(channel, message, code=code)
        self.retry_after = retry_after
        self.duplicate = duplicate
