"""Which tenant a call acts for. Pure: the rule the saver, the store and the memory layer
share (row-level security then enforces it in PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph_alma.errors import ConfigError, TenantMismatch


def resolve_tenant(bound: str | None, config: Mapping[str, Any] | None, default: str) -> str:
    """The bound tenant, else `config["configurable"]["tenant_id"]`, else `default`; a
    config naming another tenant than the bound one raises `TenantMismatch`.

    >>> resolve_tenant(None, {"configurable": {"tenant_id": "acme"}}, "default")
    'acme'
    """
    requested = ((config or {}).get("configurable") or {}).get("tenant_id")
    if requested is not None and (not isinstance(requested, str) or not requested):
        raise ConfigError(f"tenant_id must be a non-empty string, got {requested!r}")
    if bound is not None:
        if requested is not None and requested != bound:
            raise TenantMismatch(bound, requested)
        return bound
    return requested or default


def run_tenant(bound: str | None, default: str) -> str:
    """The tenant a call acts for, read where the store reads it: the bound tenant, else
    the running graph's `configurable["tenant_id"]` (LangGraph's context), else `default`.

    >>> run_tenant(None, "default")   # outside a graph run
    'default'
    """
    from langgraph.config import get_config

    try:
        config = get_config()
    except RuntimeError:  # not inside a graph run
        config = None
    return resolve_tenant(bound, config, default)
