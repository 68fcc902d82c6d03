"""What every prebuilt node shares: one body written as a plan of calls, driven sync or
async; and where its `Alma` comes from (the one it was built with, or the store the graph
was compiled with, for the tenant, project, agent and workflow in the run's config).

A node body is a generator of calls (`nodes.calls`): `drive` runs it on a sync `Alma`,
`adrive` on an `AsyncAlma`, so `invoke`, `ainvoke` and `astream` run the same body, and
a node works with whichever facade the graph has. A node takes its facade as the typed
protocols of `alma.protocols` say (`Facade`, `AsyncFacade`...), an `Alma` or `AsyncAlma`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.config import run_in_executor

from langgraph_alma.alma.protocols import AsyncFacade, Facade
from langgraph_alma.errors import ConfigError
from langgraph_alma.nodes.calls import Body, adrive, drive

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing's own from Python 3.13

    from langgraph_alma.alma import Alma, AsyncAlma

N = TypeVar("N")


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


def injected_store(config: RunnableConfig | None) -> object:
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


def is_async(obj: object, method: str) -> bool:
    """Does `obj.method` return an awaitable (an `AsyncAlma`, an async engine)?"""
    return inspect.iscoroutinefunction(getattr(obj, method, None))


def async_facade(facade: Facade | AsyncFacade) -> TypeIs[AsyncFacade]:
    """Is `facade` an async one (an `AsyncAlma`)? Its type is narrowed either way."""
    return is_async(facade, "retrieve")


def injected_alma(config: RunnableConfig | None) -> Alma | AsyncAlma:
    """A facade over the injected store, for a node built without one: an `AsyncAlma` on
    an `AsyncAlmaStore`, an `Alma` on an `AlmaStore`, for the run's tenant and project."""
    from langgraph_alma.alma import Alma, AsyncAlma
    from langgraph_alma.store import AlmaStore, AsyncAlmaStore

    store = injected_store(config)
    conf = configurable(config)
    tenant, project = conf.get("tenant_id"), str(conf.get("project_id") or "default")
    if isinstance(store, AsyncAlmaStore):
        if tenant and store.tenant_id is None:
            store = store.for_tenant(str(tenant))
        return AsyncAlma(store, project_id=project)
    if isinstance(store, AlmaStore):
        if tenant and store.tenant_id is None:
            store = store.for_tenant(str(tenant))
        return Alma(store, project_id=project)
    raise ConfigError(
        f"nodes built without an Alma need an AlmaStore or AsyncAlmaStore as the graph's "
        f"store, got {type(store).__name__}"
    )


@dataclass
class Needs(Generic[N]):
    """What a node body runs against, resolved for one run."""

    facade: N  # the object whose calls the body yields (Alma, engine, session manager)
    asynchronous: bool


class AlmaNode(RunnableLambda[Any, Any]):
    """A prebuilt node: a `RunnableLambda` with a sync and an async face over one body,
    and callable as `node(state, config)` like a plain node function.

    `resolve(config)` says what the body runs against; `body(state, config, needs)` is
    the generator of calls.
    """

    def __init__(
        self,
        name: str,
        resolve: Callable[[RunnableConfig | None], Needs[N]],
        body: Callable[[Mapping[str, Any], RunnableConfig | None, Needs[N]], Body[Any]],
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
