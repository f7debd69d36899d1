"""`tocsin run`: start the engine and its HTTP API in one process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tocsin.errors import ConfigError

if TYPE_CHECKING:  # the runtime is imported only when `run` runs: `tocsin version` stays quick
    from tocsin.config.loader import LoadedConfig

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "runtime" / "demo.yml"


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="tocsin config file (YAML).")
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(help="Run the built-in demo: tocsin watching a simulated fleet."),
    ] = False,
    listen: Annotated[
        str | None, typer.Option(help="host:port to listen on (overrides server.listen).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run tocsin: poll sources, detect state, serve the API and status page."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if config is None and not demo:
        typer.echo("give --config FILE, or --demo to watch the built-in simulated fleet", err=True)
        raise typer.Exit(2)
    path = config if config is not None else DEMO_CONFIG
    from tocsin.config.loader import load_config

    try:
        loaded = load_config(path)
    except ConfigError as exc:
        typer.echo(f"configuration error in {path}:\n{exc}", err=True)
        raise typer.Exit(1) from None
    if listen is not None:
        server = loaded.config.server.model_copy(update={"listen": listen})
        loaded.config = loaded.config.model_copy(update={"server": server})
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(loaded, path if config is not None else None))
    except ConfigError as exc:
        # Found while starting: receivers and templates are built then.
        typer.echo(f"configuration error in {path}:\n{exc}", err=True)
        raise typer.Exit(1) from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed: about a third more alerts and notifications
    per second than asyncio's own loop (docs/bench/alerting-dispatch.md).
    TOCSIN_EVENT_LOOP=asyncio picks the standard loop."""
    if os.environ.get("TOCSIN_EVENT_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(loaded: LoadedConfig, config_path: Path | None) -> None:
    import uvicorn

    from tocsin.api.app import create_app
    from tocsin.clock import SystemClock
    from tocsin.runtime.engine import Runtime
    from tocsin.runtime.gctune import tune_gc

    runtime = Runtime(loaded, SystemClock(), config_path=config_path)
    await runtime.start()
    tune_gc()
    server_cfg = loaded.config.server
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, runtime.api_routers()),
            host=server_cfg.host,
            port=server_cfg.port,
            log_level="warning",
            access_log=False,
        )
    )
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[object]] = set()

    def on_sighup() -> None:
        task = loop.create_task(runtime.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    # uvicorn handles SIGTERM/SIGINT during serve() and re-raises the signal
    # afterwards to the handler that was there before; make that one a no-op so
    # the process gets to stop the runtime (final state snapshot, tsdb flush).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    logging.getLogger("tocsin").info("tocsin listening on http://%s", server_cfg.listen)
    try:
        await server.serve()
    finally:
        await runtime.stop()
