"""Typed errors. Each carries the value that broke the rule."""

from __future__ import annotations

from typing import Any


class AlmaError(Exception):
    """Base class of every error raised by langgraph-alma."""


class ConfigError(AlmaError, ValueError):
    """A configuration value or call argument is missing or invalid."""


class ThreadIdRequired(ConfigError):
    """A checkpoint operation was called without `configurable.thread_id`."""

    def __init__(self, config: Any) -> None:
        super().__init__(
            'config["configurable"]["thread_id"] is required for checkpoint operations; '
            f"got configurable={dict((config or {}).get('configurable') or {})!r}"
        )


class TenantRequired(ConfigError):
    """An operation needs a tenant and none was given."""


class TenantMismatch(AlmaError, PermissionError):
    """A call names a tenant other than the one the saver or store is bound to."""

    def __init__(self, bound: str, requested: str) -> None:
        self.bound, self.requested = bound, requested
        super().__init__(
            f"this saver/store acts for tenant {bound!r} but the call asks for tenant "
            f"{requested!r}; use .for_tenant({requested!r}) or a privileged instance"
        )


class StateTooLarge(AlmaError, ValueError):
    """A checkpoint's serialized state is above the configured limit; nothing was written."""

    def __init__(self, size: int, limit: int, channels: dict[str, int]) -> None:
        self.size, self.limit, self.channels = size, limit, channels
        largest = ", ".join(
            f"{k}={v}" for k, v in sorted(channels.items(), key=lambda kv: -kv[1])[:3]
        )
        super().__init__(
            f"checkpoint state is {size} bytes serialized, above the limit of {limit} bytes "
            f"(largest channels: {largest}); nothing was written"
        )


class MigrationError(AlmaError):
    """A schema migration could not be applied."""


class EmbeddedServerError(AlmaError):
    """The embedded PostgreSQL server could not be started."""
