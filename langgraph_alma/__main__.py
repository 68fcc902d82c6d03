"""`python -m langgraph_alma demo` and `python -m langgraph_alma migrate status|up`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alma", description="langgraph-alma")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a chat graph on the embedded database, narrated")
    demo.add_argument("--url", help="PostgreSQL URL (default: ALMA_DATABASE_URL or embedded)")
    migrate = sub.add_parser("migrate", help="show or apply schema migrations")
    migrate.add_argument("action", choices=["status", "up"])
    migrate.add_argument("--url", help="PostgreSQL URL (default: ALMA_DATABASE_URL or embedded)")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from langgraph_alma.demo import run

            run(args.url)
            return 0
        from langgraph_alma.migrations.__main__ import main as migrations_main

        return migrations_main([args.action, *(["--url", args.url] if args.url else [])])
    except Exception as exc:  # one clear line, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
