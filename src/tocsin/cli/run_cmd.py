"""`tocsin run` command."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI (filled in as the feature lands)."""
