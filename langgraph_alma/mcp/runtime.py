"""`AlmaRuntime`: what the MCP tools act on, the services of one tenant (facade, progress,
sessions, confidence) over one store, and the server's health and effective config.

A runtime acts for one tenant. Only a privileged runtime (a store on the admin role, which
bypasses row-level security) hands out another tenant's services.

>>> async with open_runtime(tenant="acme") as runtime:          # doctest: +SKIP
...     alma = runtime.alma()                                   # acme's AsyncAlma
...     await alma.retrieve("test the login form", agent="helena")
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from langgraph_alma.alma import MEMORY_EXACT_SEARCH_MAX, AsyncAlma
from langgraph_alma.confidence import AsyncConfidenceEngine
from langgraph_alma.config import Settings, get_settings
from langgraph_alma.db.connect import connection_kwargs, resolve
from langgraph_alma.embeddings import index_config
from langgraph_alma.errors import AlmaError, ConfigError, PrivilegeRequired
from langgraph_alma.migrations import migrations, status
from langgraph_alma.progress import AsyncProgressTracker
from langgraph_alma.session import AsyncSessionManager
from langgraph_alma.store import AsyncAlmaStore

REDACTED = "**********"


@functools.cache  # reading installed metadata walks sys.path: ~10 ms on the event loop
def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature", re.I)
"""Connection parameters (and query-string keys) whose values are redacted:
`password`, `sslpassword`, `api_key`, `access_token`, ..."""


def redact_url(url: str | None) -> str | None:
    """A connection string (URL or `key=value` form) with its password and every
    secret-bearing parameter redacted; one that cannot be parsed is redacted whole.

    >>> redact_url("postgresql://app:s3cret@db:5432/alma?sslpassword=k&sslmode=require")
    'postgresql://app:**********@db:5432/alma?sslpassword=**********&sslmode=require'
    """
    if not url:
        return url
    try:
        if "://" not in url:
            params = psycopg.conninfo.conninfo_to_dict(url)
            for key in params:
                if SECRET_PARAMETER.search(key):
                    params[key] = REDACTED
            return psycopg.conninfo.make_conninfo("", **params)
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:{REDACTED}@{host}"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if SECRET_PARAMETER.search(k) else v) for k, v in pairs], safe="*"
        )
        fragment = REDACTED if parts.fragment else ""
        return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))
    except (ValueError, psycopg.Error):
        return REDACTED


def effective_config(settings: Settings, **server: Any) -> dict[str, Any]:
    """The settings in force, secrets and passwords redacted, plus the server's own."""
    values = settings.model_dump(mode="json")  # SecretStr fields dump as '**********'
    for name in ("database_url", "admin_database_url", "openai_base_url"):
        values[name] = redact_url(values.get(name))
    return {"settings": values, "server": server}


@dataclass
class AlmaRuntime:
    """The services the tools call, for the server's tenant (or, privileged, any)."""

    store: AsyncAlmaStore
    tenant: str
    privileged: bool = False
    project_id: str = "default"
    url: str | None = None
    rank_by_confidence: bool = True
    """`ALMA_RANK_HEURISTICS_BY_CONFIDENCE`, read once at startup: reading the settings
    (environment, config file) costs some 4 ms of CPU, too much to do on the loop per
    retrieve."""
    _own: AsyncAlma | None = field(default=None, repr=False)

    def tenant_for(self, tenant_id: str | None) -> str:
        """The tenant a call acts for; another than the server's needs privilege."""
        if tenant_id is None or tenant_id == self.tenant:
            return self.tenant
        if not self.privileged:
            raise PrivilegeRequired(
                f"this server acts for tenant {self.tenant!r} only; tenant {tenant_id!r} "
                "needs a server started with --privileged"
            )
        if not tenant_id.strip():
            raise ConfigError("tenant_id must not be empty")
        return tenant_id

    def alma(self, tenant_id: str | None = None) -> AsyncAlma:
        """The facade of a tenant; checkpoints share the store's connections."""
        tenant = self.tenant_for(tenant_id)
        if tenant != self.tenant:  # a cheap view per call: nothing kept per foreign tenant
            return AsyncAlma(self.store.for_tenant(tenant), project_id=self.project_id)
        if self._own is None:
            self._own = AsyncAlma(self.store, project_id=self.project_id)
        return self._own

    def progress(self, tenant_id: str | None = None) -> AsyncProgressTracker:
        return AsyncProgressTracker(self.alma(tenant_id).store, project_id=self.project_id)

    def sessions(self, tenant_id: str | None = None) -> AsyncSessionManager:
        alma = self.alma(tenant_id)
        return AsyncSessionManager(alma.store, project_id=self.project_id, alma=alma)

    def confidence(self, tenant_id: str | None = None) -> AsyncConfidenceEngine:
        return AsyncConfidenceEngine(self.alma(tenant_id))

    async def health(self) -> dict[str, Any]:
        """Database reachable, migrations current, versions, tenant."""
        report: dict[str, Any] = {
            "server_version": package_version("langgraph-alma"),
            "mcp_version": package_version("mcp"),
            "tenant": self.tenant,
            "privileged": self.privileged,
            "project_id": self.project_id,
        }
        try:  # one read through the server's own connections and role
            await self.store.aget(("alma", "health"), "ping")
        except (psycopg.Error, AlmaError) as exc:
            return {**report, "status": "error", "database": False, "error": str(exc)}
        try:
            applied = await asyncio.to_thread(_applied_migrations, self.url)
        except psycopg.Error as exc:  # e.g. no migration role configured
            unknown = {"current": None, "error": str(exc)}
            return {**report, "status": "degraded", "database": True, "migrations": unknown}
        shipped = [m.version for m in migrations()]
        pending = [v for v in shipped if v not in applied]
        return {
            **report,
            "status": "ok" if not pending else "degraded",
            "database": True,
            "migrations": {"applied": applied, "pending": pending, "current": not pending},
        }

    def config(self, transport: str) -> dict[str, Any]:
        return effective_config(
            get_settings(),
            tenant=self.tenant,
            privileged=self.privileged,
            project_id=self.project_id,
            transport=transport,
            embeddings=get_settings().embeddings or "none (full text only)",
        )


def _applied_migrations(url: str | None) -> list[int]:
    # As the migration role: the application role may not create the migrations table,
    # which reading the status does when it is missing.
    with psycopg.connect(resolve(url).admin_url, **connection_kwargs()) as conn:
        return status(conn).applied


@contextlib.asynccontextmanager
async def open_runtime(
    *, tenant: str | None = None, privileged: bool = False, url: str | None = None
) -> AsyncIterator[AlmaRuntime]:
    """Open the store (on the admin role when privileged), run migrations, and yield a
    runtime for `tenant` (default: `Settings.tenant_id`)."""
    tenant = tenant or get_settings().tenant_id
    if not tenant.strip():
        raise ConfigError("tenant must not be empty")
    settings = get_settings()
    index = index_config(settings.embeddings, settings.embedding_dims)
    async with AsyncAlmaStore.from_conn_string(
        url,
        index=index,
        tenant_id=tenant,
        privileged=privileged,
        exact_search_max=MEMORY_EXACT_SEARCH_MAX,
    ) as store:
        await store.setup()
        yield AlmaRuntime(
            store=store,
            tenant=tenant,
            privileged=privileged,
            url=url,
            rank_by_confidence=settings.rank_heuristics_by_confidence,
        )
