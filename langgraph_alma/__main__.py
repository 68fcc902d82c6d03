"""`python -m langgraph_alma ...`: the `alma` command line (see `langgraph_alma.cli`)."""

from __future__ import annotations

import sys

from langgraph_alma.cli import main

if __name__ == "__main__":
    sys.exit(main())
