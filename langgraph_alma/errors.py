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


class InvalidFilter(AlmaError, ValueError):
    """A store search filter uses an unknown operator or an operand of the wrong type."""

    def __init__(self, message: str, filter: Any) -> None:
        self.filter = filter
        super().__init__(f"{message}; filter={filter!r}")


class InvalidValue(AlmaError, ValueError):
    """A store value is not a JSON object PostgreSQL can hold; nothing was written."""

    def __init__(self, message: str, key: str) -> None:
        self.key = key
        super().__init__(f"item {key!r}: {message}; nothing was written")


class ValueTooLarge(AlmaError, ValueError):
    """A store value is above the configured size limit; nothing was written."""

    def __init__(self, key: str, size: int, limit: int) -> None:
        self.key, self.size, self.limit = key, size, limit
        super().__init__(
            f"item {key!r} is {size} bytes as JSON, above the limit of {limit} bytes; "
            "nothing was written"
        )


class PrivilegeRequired(AlmaError, PermissionError):
    """An operation spans tenants and the instance is not privileged."""


class ScopeViolation(AlmaError, PermissionError):
    """An agent tried to learn a category its MemoryScope (or domain) does not allow."""

    def __init__(self, agent: str, category: str, reason: str) -> None:
        self.agent, self.category = agent, category
        super().__init__(f"agent {agent!r} may not learn {category!r}: {reason}; nothing stored")


class ExtractionError(AlmaError):
    """An extractor could not turn a transcript into memories; nothing was returned."""

    def __init__(self, message: str, *, model: str | None = None) -> None:
        self.model = model
        where = f" (model {model!r})" if model else ""
        super().__init__(f"memory extraction failed{where}: {message}")


class DomainSchemaError(AlmaError, ValueError):
    """A domain schema definition is invalid (unknown key, undeclared type, conflict)."""

    def __init__(self, schema: str, message: str) -> None:
        self.schema = schema
        super().__init__(f"domain schema {schema!r}: {message}")


class SchemaViolation(AlmaError, ValueError):
    """An entity or relationship does not fit the graph's domain schema; nothing was written."""

    def __init__(self, schema: str, value: Any, reason: str) -> None:
        self.schema, self.value = schema, value
        super().__init__(f"{value!r} does not fit domain schema {schema!r}: {reason}")


class EntityNotFound(AlmaError, LookupError):
    """A graph operation names an entity that does not exist; nothing was written."""

    def __init__(self, ref: Any) -> None:
        self.ref = ref
        super().__init__(f"no entity {ref!r} in this tenant and project; nothing was written")


class ThreadNotFound(AlmaError, LookupError):
    """A command names a checkpoint thread the tenant does not have."""

    def __init__(self, thread_id: str, tenant_id: str) -> None:
        self.thread_id, self.tenant_id = thread_id, tenant_id
        super().__init__(f"no thread {thread_id!r} in tenant {tenant_id!r}")


class TransferError(AlmaError, ValueError):
    """An export file cannot be imported (bad JSON, unknown record, wrong format version);
    nothing was written. `line` is the 1-based line number, when one is to blame."""

    def __init__(self, message: str, *, line: int | None = None, source: str = "") -> None:
        self.line, self.source = line, source
        where = f"{source or 'input'}, line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}; nothing was imported")


class AlmaMemorySourceError(TransferError):
    """An alma-memory database cannot be imported: missing, not alma-memory's, or of a
    schema version the importer does not know; nothing was imported."""

    def __init__(self, source: str, problem: str) -> None:
        self.problem = problem
        super().__init__(f"alma-memory source {source}: {problem}", source=source)


class MissingExtra(ConfigError, ModuleNotFoundError):
    """A feature needs an optional extra that is not installed: the message names the
    extra and the pip command. `name` is the missing module, as on `ModuleNotFoundError`."""

    def __init__(self, feature: str, extra: str, module: str | None = None) -> None:
        self.feature, self.extra = feature, extra
        install = f'pip install "langgraph-alma[{extra}]"'
        super().__init__(f"{feature} needs the {extra} extra: {install}")
        self.name = module or extra


class InvalidChannelValue(AlmaError, ValueError):
    """A checkpoint value, write or metadata cannot be stored faithfully (a str with a
    lone surrogate is not valid UTF-8); nothing was written. `where` names the channel
    (or `metadata`) and `path` the place inside the value."""

    def __init__(self, where: str, path: str, reason: str = "") -> None:
        self.where, self.path = where, path
        reason = reason or (
            "a str with a lone surrogate, which PostgreSQL cannot store (text must be valid UTF-8)"
        )
        super().__init__(f"{where}: {reason}, at {path}; nothing was written")


class InvalidLimit(ConfigError):
    """A `limit` argument is not a non-negative int PostgreSQL can take; nothing was read."""

    def __init__(self, limit: Any, name: str = "limit") -> None:
        self.limit = limit
        super().__init__(
            f"{name} must be a non-negative integer (an int from 0 to {2**63 - 1}, not a "
            f"bool, str or float) or None; got {limit!r}"
        )


class InvalidStoreKey(AlmaError, ValueError):
    """A store key, namespace label or query PostgreSQL cannot hold (a NUL character, a
    lone surrogate, too long); nothing was sent. `op` is the op's position in its batch."""

    def __init__(self, op: int, what: str, value: Any, reason: str) -> None:
        self.op, self.what, self.value = op, what, value
        shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
        super().__init__(f"op {op}: {what} {shown!r} {reason}; nothing was written")


class StoreBatchFailed(AlmaError):
    """PostgreSQL refused a store batch (a lock timeout, a cancelled statement, a lost
    connection...); its transaction was rolled back, so nothing of it was written. The
    driver's error is the `__cause__`; `ops` says what the batch held."""

    def __init__(self, ops: str, cause: BaseException) -> None:
        self.ops = ops
        super().__init__(
            f"the store batch ({ops}) failed and was rolled back, nothing was written: "
            f"{type(cause).__name__}: {str(cause).strip()}"
        )


class CheckpointWriteInterrupted(AlmaError):
    """A checkpoint write was sent in one batch with another caller's, whose call was
    interrupted (a cancelled task, KeyboardInterrupt) before the batch finished: it may
    or may not be stored. The interruption is the `__cause__`."""


class StoreBatchInterrupted(AlmaError):
    """A store write was sent in one batch with another thread's, whose call was
    interrupted (KeyboardInterrupt, SystemExit) before the batch finished: it may or may
    not be stored. The interruption is the `__cause__`."""
