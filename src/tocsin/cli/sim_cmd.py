"""`tocsin sim` command: run the fleet simulator until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from tocsin.errors import ConfigError

if TYPE_CHECKING:
    from tocsin.sim import SimConfig


def register(app: typer.Typer) -> None:
    """Add `tocsin sim` to the CLI."""
    app.command(name="sim")(sim)


def sim(
    venues: int = typer.Option(2000, help="Number of venues."),
    zones_per_venue: int = typer.Option(5, help="Zones per venue (1-16)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(9096, help="Port to listen on (0 picks a free one)."),
    seed: int = typer.Option(1, help="Seed of the generated fleet and random faults."),
    failing_share: float = typer.Option(0.002, help="Share of zones offline from the start."),
    scenario: Path | None = typer.Option(None, help="Scenario YAML with faults to inject."),
    truth: Path | None = typer.Option(None, help="Write ground truth as JSONL to this file."),
    api_key: str | None = typer.Option(
        None, envvar="TOCSIN_SIM_API_KEY", help="Require this key (X-API-Key or Bearer)."
    ),
    budget_per_minute: int | None = typer.Option(
        None, help="Request budget per minute; over it answers 429 with Retry-After."
    ),
    heartbeat_interval: float = typer.Option(60.0, help="Granularity of last_seen, seconds."),
) -> None:
    """Run the fleet simulator: a vendor-style zone-status API with injectable faults."""
    from tocsin.sim import SimConfig, load_scenario

    try:
        faults = load_scenario(scenario) if scenario is not None else []
        config = SimConfig(
            venues=venues,
            zones_per_venue=zones_per_venue,
            seed=seed,
            failing_share=failing_share,
            api_key=api_key,
            budget_per_minute=budget_per_minute,
            heartbeat_interval=heartbeat_interval,
            faults=faults,
            truth_path=truth,
        )
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for err in exc.errors():
            field = "--" + "-".join(str(p) for p in err["loc"]).replace("_", "-")
            typer.echo(f"error: {field}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_serve(config, host, port))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from None


async def _serve(config: SimConfig, host: str, port: int) -> None:
    from tocsin.sim import FaultError, FleetSimulator

    try:
        simulator = FleetSimulator(config)
    except FaultError as exc:
        typer.echo(f"error: scenario: {exc}", err=True)
        raise typer.Exit(2) from None
    base = await simulator.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    offline = simulator.engine.world.offline_count()
    typer.echo(
        f"tocsin sim: {simulator.zone_count} zones in {config.venues} venues "
        f"({offline} failing) listening on {base}  (zones: {base}/v1/zones, "
        f"admin: {base}/admin/faults)",
    )
    if config.truth_path is not None:
        typer.echo(f"tocsin sim: ground truth -> {config.truth_path}")
    try:
        await stop.wait()
    finally:
        await simulator.stop()
        typer.echo("tocsin sim: stopped")
