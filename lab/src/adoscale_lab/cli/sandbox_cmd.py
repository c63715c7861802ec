"""`adoscale sandbox`: Azure DevOps (the emulator) and AWS (moto) on 127.0.0.1, for trying the real commands."""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

import typer

from adoscale.cli import EXIT_CONFIG, EXIT_OK, app


@app.command(short_help="Serve ADO and AWS stand-ins on 127.0.0.1 to try the CLI on.")
def sandbox(
    directory: Path | None = typer.Option(
        None,
        "--dir",
        help="Where to write adoscale.yaml and env.sh (default: a new temporary directory).",
        file_okay=False,
    ),
    ado_port: int = typer.Option(0, "--ado-port", min=0, max=65535, help="Emulator port on 127.0.0.1 (0: any)."),
    aws_port: int = typer.Option(0, "--aws-port", min=0, max=65535, help="moto's port on 127.0.0.1 (0: any)."),
    jobs: int = typer.Option(3, "--jobs", min=0, help="Jobs queued at start in the pool `linux`."),
    agents: bool = typer.Option(
        True, "--agents/--no-agents", help="Emulated agents: each task's agent comes online, runs a job and exits."
    ),
) -> None:
    """Run Azure DevOps (the emulator) and AWS (moto) on 127.0.0.1 until Ctrl-C or SIGTERM, set up as the demo
    sets them up (two pools, an ECS cluster and task definition, a lease table, the PAT and hook secret in
    Secrets Manager), and print the environment and the configuration to try `reconcile`, `serve`, `status`
    and `hooks` with from another terminal. Nothing outlives it; no secret is printed."""
    from dataclasses import replace

    from adoscale_lab.sandbox import DEFAULT_POOLS, running_sandbox

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO
    pools = (replace(DEFAULT_POOLS[0], jobs=jobs), *DEFAULT_POOLS[1:])
    folder = directory or Path(tempfile.mkdtemp(prefix="adoscale-sandbox-"))
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with running_sandbox(folder, ado_port=ado_port, aws_port=aws_port, pools=pools, agents=agents) as box:
            pool_list = ", ".join(f"{p.name} ({p.jobs} queued)" for p in pools)
            typer.echo(f"Azure DevOps emulator: {box.ado_url} (pools: {pool_list})")
            typer.echo(f"AWS (moto):            {box.aws_url}")
            typer.echo(f"configuration:         {box.config_path}")
            typer.echo("\nIn another terminal:\n")
            typer.echo(f"  source {box.env_path}")
            typer.echo(f"  adoscale reconcile -c {box.config_path}")
            typer.echo(f"  adoscale status -c {box.config_path}")
            typer.echo(f"  adoscale serve -c {box.config_path} --hooks-port 8090")
            typer.echo("\nEnvironment:")
            for key, value in box.environment.items():
                typer.echo(f"  {key}={value}")
            admin = box.ado_url.rsplit("/", 1)[0] + "/_emulator"
            typer.echo("\nQueue another job (docs/emulator.md has the whole admin API):")
            typer.echo(f'  curl -X POST -d \'{{"demands": ["docker"]}}\' {admin}/pools/linux/jobs')
            typer.echo("\nCtrl-C stops the sandbox.")
            stop.wait()
    except OSError as exc:
        typer.echo(f"adoscale sandbox: cannot listen on 127.0.0.1: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo("sandbox stopped")
    raise typer.Exit(EXIT_OK)
