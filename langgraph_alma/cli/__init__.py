"""The `alma` command line (typer): demo, migrations, the MCP server, threads and their
history, memories, stats, forgetting, export and import.

An interface layer: may import everything below it; nothing imports it back.

    alma --tenant acme threads
    alma --tenant acme memories search "flaky login test" --agent helena
    alma --tenant acme export acme.jsonl && alma --url postgresql://... import acme.jsonl
"""

from langgraph_alma.cli.app import app, main

__all__ = ["app", "main"]
