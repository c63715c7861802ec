"""`adoscale emulator`: Azure DevOps on 127.0.0.1, for trying adoscale (or any ADO client) without an organization."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from adoscale.cli import EXIT_CONFIG, EXIT_OK, app
from adoscale.secrets import register_secret
from adoscale_lab.emulator import AdoModel, EmulatorError, Faults, make_app, serve
from adoscale_lab.emulator.scenario import ScenarioError, apply_scenario, load_scenario


@app.command(short_help="Serve the Azure DevOps emulator on 127.0.0.1.")
def emulator(
    port: int = typer.Option(8081, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    org: str = typer.Option("acme", "--org", help="Organization name: the URL is http://127.0.0.1:PORT/ORG."),
    pat: str = typer.Option(..., "--pat", envvar="AZP_TOKEN", help="The PAT clients must send (or AZP_TOKEN)."),
    pool: list[str] = typer.Option([], "--pool", help="Create this agent pool at start (repeatable)."),
    project: list[str] = typer.Option([], "--project", help="Create this project at start (repeatable)."),
    scenario: Path | None = typer.Option(
        None,
        "--scenario",
        help="YAML file with pools, agents, jobs, projects, Environments, VMs, the parallel-job limit and faults.",
        dir_okay=False,
    ),
    placeholder: bool = typer.Option(
        True, "--placeholder/--no-placeholder", help="Register an offline placeholder agent in each --pool."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for the fault injection's random draws."),
) -> None:
    """Serve the Azure DevOps emulator on 127.0.0.1 until Ctrl-C or SIGTERM.

    It answers the location service, pools, agents, job requests, Environments and VM resources,
    resource usage and service-hook subscriptions with the real service's wire behaviour, and an admin
    API under /_emulator/ (queue jobs, bring agents online, inject faults, read the request log); see
    docs/emulator.md.
    """
    register_secret(pat)
    model = AdoModel(org=org, pat=pat)
    faults = Faults(seed=seed)
    try:
        for name in project:
            model.create_project(name)
        for name in pool:
            pool_id = model.create_pool(name)
            if placeholder:
                model.register_agent(pool_id, "adoscale-placeholder", online=False)
        if scenario is not None:
            apply_scenario(load_scenario(scenario), model, faults)
    except (ScenarioError, EmulatorError) as exc:
        typer.echo(f"adoscale emulator: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server_cm = serve(make_app(model, faults), port=port)
        server = server_cm.__enter__()
    except OSError as exc:
        typer.echo(f"adoscale emulator: cannot listen on 127.0.0.1:{port}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    try:
        pools = ", ".join(p.name for p in model.pools(pool_type="automation")) or "none"
        typer.echo(f"Azure DevOps emulator: {server.url}/{org} (pools: {pools}); Ctrl-C stops it")
        stop.wait()
    finally:
        server_cm.__exit__(None, None, None)
    typer.echo("emulator stopped")
    raise typer.Exit(EXIT_OK)
