"""`python -m langgraph_alma.mcp [--http] [--host H] [--port P] [--privileged]
[--tenant T] [--url URL]`: run the MCP server (stdio unless --http). A configuration
error is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import sys

from langgraph_alma.errors import ConfigError
from langgraph_alma.mcp.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m langgraph_alma.mcp",
        description="Run the langgraph-alma MCP server (stdio unless --http).",
    )
    parser.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--privileged", action="store_true", help="serve every tenant")
    parser.add_argument("--tenant", help="tenant to act for (default ALMA_TENANT_ID)")
    parser.add_argument("--url", help="database URL (default ALMA_DATABASE_URL)")
    args = parser.parse_args(argv)
    try:
        serve(
            transport="http" if args.http else "stdio",
            host=args.host,
            port=args.port,
            privileged=args.privileged,
            tenant=args.tenant,
            url=args.url,
        )
    except ConfigError as exc:
        print(f"alma mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
