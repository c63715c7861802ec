"""`adoscale demo`: see adoscale scale two pools out and back to zero, with nothing but Python."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import typer
from rich.console import Console

from adoscale.cli import EXIT_FAILED, EXIT_OK, app


@app.command(short_help="The real loop scales two emulated pools out and back to zero.")
def demo(
    seed: int = typer.Option(7, "--seed", help="Seed for start-up and job durations."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    plain: bool = typer.Option(False, "--plain", help="A plain log instead of the live view."),
) -> None:
    """Run the demo: the ADO emulator on 127.0.0.1, AWS in-process (moto), emulated agents, and the
    real reconcile loop scaling two pools with different capabilities out and back to zero.

    Needs no cloud account. Exits 0 when every job ran and nothing was left running or registered.
    """
    from adoscale_lab.demo.run import run_demo  # moto is imported only for the demo

    logging.basicConfig(level=logging.WARNING)
    console = Console()
    live = console.is_terminal and not plain and not as_json
    summary = run_demo(console=Console(stderr=True) if as_json else console, live=live, seed=seed)
    if as_json:
        typer.echo(json.dumps({**asdict(summary), "ok": summary.ok}, indent=2))
    else:
        console.print(
            f"\n[bold]demo summary[/bold]: jobs run {summary.jobs_run}/{summary.jobs_queued}, "
            f"longest wait {summary.longest_wait_s:.1f} s, tasks launched {summary.launched}, "
            f"tasks left {summary.tasks_left}, registrations left {summary.registrations_left}, "
            f"busy agents killed {summary.busy_killed}, agent-minutes {summary.agent_minutes:.1f}, "
            f"{summary.passes} passes in {summary.wall_s:.0f} s",
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_OK if summary.ok else EXIT_FAILED)
