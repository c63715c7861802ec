"""`adoscale emulator`: Azure DevOps on 127.0.0.1, for trying adoscale without an organization."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from adoscale.cli import EXIT_OK, app
from adoscale.emulator import AdoModel, make_app, serve
from adoscale.secrets import register_secret


@app.command()
def emulator(
    port: int = typer.Option(8081, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    org: str = typer.Option("acme", "--org", help="Organization name: the URL is http://127.0.0.1:PORT/ORG."),
    pat: str = typer.Option(..., "--pat", envvar="AZP_TOKEN", help="The PAT clients must send (or AZP_TOKEN)."),
    pool: list[str] = typer.Option([], "--pool", help="Create this agent pool at start (repeatable)."),
    placeholder: bool = typer.Option(
        True, "--placeholder/--no-placeholder", help="Register an offline placeholder agent in each pool."
    ),
) -> None:
    """Serve the Azure DevOps emulator on 127.0.0.1 until Ctrl-C or SIGTERM.

    It answers the routes adoscale uses (pools, agents, job requests, Environments and VM resources,
    resource usage) with the real service's wire behaviour; see docs/emulator.md.
    """
    register_secret(pat)
    model = AdoModel(org=org, pat=pat)
    for name in pool:
        pool_id = model.create_pool(name)
        if placeholder:
            model.register_agent(pool_id, "adoscale-placeholder", online=False)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with serve(make_app(model), port=port) as server:
        typer.echo(f"Azure DevOps emulator: {server.url}/{org} (pools: {', '.join(pool) or 'none'}); Ctrl-C stops it")
        stop.wait()
    typer.echo("emulator stopped")
    raise typer.Exit(EXIT_OK)
