"""The memory fixtures (`make_alma`, `pool`, `clock`) for graph tests of the nodes."""

from tests.memory.conftest import _indexed, clock, make_alma, pool

__all__ = ["_indexed", "clock", "make_alma", "pool"]
