"""`python -m langgraph_alma.migrations status|up|distribute [--url URL] [--dry-run]`."""

from __future__ import annotations

import argparse
import sys

from langgraph_alma.db import connect
from langgraph_alma.migrations import migrate, migrations, status
from langgraph_alma.migrations.citus import CitusUnavailable, distribute


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m langgraph_alma.migrations")
    parser.add_argument("command", choices=["status", "up", "distribute"])
    parser.add_argument(
        "--dry-run", action="store_true", help="distribute: print the statements, run nothing"
    )
    parser.add_argument("--url", help="PostgreSQL URL (default: ALMA_DATABASE_URL or embedded)")
    args = parser.parse_args(argv)
    try:
        with connect(args.url, admin=True) as conn:
            if args.command == "distribute":
                try:
                    for line in distribute(conn, dry_run=args.dry_run):
                        print(line)
                except CitusUnavailable as exc:
                    print(f"skipped: {exc}")
            elif args.command == "up":
                applied = migrate(conn)
                print(
                    f"applied {len(applied)} migration(s): {applied}" if applied else "up to date"
                )
            else:
                st = status(conn)
                for m in migrations():
                    mark = "applied" if m.version in st.applied else "pending"
                    print(f"{m.version:04d}  {m.name:<24} {mark}")
    except Exception as exc:  # one clear line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
