"""What every prebuilt node shares: one body written as a plan of calls, driven sync or
async; and where its `Alma` comes from (the one it was built with, or the store the graph
was compiled with, for the tenant, project, agent and workflow in the run's config).

A node body is a generator of calls (`session.calls`): `drive` runs it on a sync `Alma`,
`adrive` on an `AsyncAlma`, so `invoke`, `ainvoke` and `astream` run the same body, and
a node works with whichever facade the graph has.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.config import run_in_executor

from langgraph_alma.errors import ConfigError
from langgraph_alma.session.calls import Body, adrive, drive


def configurable(config: RunnableConfig | None) -> dict[str, Any]:
    return dict((config or {}).get("configurable") or {})


def agent_of(agent: str | None, config: RunnableConfig | None) -> str:
    """The node's agent, else the run's `configurable["agent"]` (the server's
    `assistant_id` when it names none)."""
    conf = configurable(config)
    found = agent or conf.get("agent") or conf.get("assistant_id")
    if not found:
        raise ConfigError(
            "this node needs an agent: pass one to the node factory or set "
            'config["configurable"]["agent"]'
        )
    return str(found)


def injected_store(config: RunnableConfig | None) -> Any:
    """The store LangGraph gives the run (`compile(store=...)`, or the server's)."""
    from langgraph.config import get_store

    try:
        store = get_store()
    except RuntimeError:
        store = None
    if store is None:
        raise ConfigError(
            "this node was built without an Alma and the graph has no store: compile it "
            "with store=AlmaStore(...) (or serve it with langgraph_alma.studio.store)"
        )
    return store


def is_async(obj: Any, method: str) -> bool:
    """Does `obj.method` return an awaitable (an `AsyncAlma`, an async engine)?"""
    return inspect.iscoroutinefunction(getattr(obj, method, None))


def alma_for(alma: Any, config: RunnableConfig | None) -> Any:
    """The node's `Alma`, else one over the injected store: an `AsyncAlma` on an
    `AsyncAlmaStore`, an `Alma` on an `AlmaStore`, for the run's tenant and project."""
    if alma is not None:
        return alma
    from langgraph_alma.alma import Alma, AsyncAlma
    from langgraph_alma.store import AlmaStore, AsyncAlmaStore

    store = injected_store(config)
    conf = configurable(config)
    if isinstance(store, AsyncAlmaStore):
        facade: type[Any] = AsyncAlma
    elif isinstance(store, AlmaStore):
        facade = Alma
    else:
        raise ConfigError(
            f"nodes built without an Alma need an AlmaStore or AsyncAlmaStore as the graph's "
            f"store, got {type(store).__name__}"
        )
    tenant = conf.get("tenant_id")
    if tenant and store.tenant_id is None:
        store = store.for_tenant(str(tenant))
    return facade(store, project_id=str(conf.get("project_id") or "default"))


@dataclass
class Needs:
    """What a node body runs against, resolved for one run."""

    facade: Any  # the object whose calls the body yields (Alma, engine, session manager)
    asynchronous: bool


class AlmaNode(RunnableLambda):
    """A prebuilt node: a `RunnableLambda` with a sync and an async face over one body,
    and callable as `node(state, config)` like a plain node function.

    `resolve(config)` says what the body runs against; `body(state, config, needs)` is
    the generator of calls.
    """

    def __init__(
        self,
        name: str,
        resolve: Callable[[RunnableConfig | None], Needs],
        body: Callable[[Mapping[str, Any], RunnableConfig | None, Needs], Body],
    ) -> None:
        def func(state: Any, config: RunnableConfig) -> Any:
            needs = resolve(config)
            if needs.asynchronous:
                raise ConfigError(
                    f"node {name!r} runs on an async facade (AsyncAlma / AsyncAlmaStore): "
                    "run the graph with ainvoke or astream"
                )
            return drive(body(state, config, needs))

        async def afunc(state: Any, config: RunnableConfig) -> Any:
            needs = resolve(config)
            if needs.asynchronous:
                return await adrive(body(state, config, needs))
            # A sync facade blocks: off the event loop (the context, and so the run's
            # store and config, go along).
            return await run_in_executor(config, drive, body(state, config, needs))

        super().__init__(func, afunc=afunc, name=name)
        self._func = func

    def __call__(self, state: Any, config: RunnableConfig | None = None) -> Any:
        """Run the node's sync face directly: `node(state, config)`."""
        return self._func(state, config or {})
