"""`adoscale simulate` and `adoscale cost`: figures for waits, cost and safety, from the real code."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from adoscale.cli import EXIT_CONFIG, EXIT_OK, app
from adoscale.cli.common import print_rows


def _workload(name: str, days: int, seed: int) -> tuple[list, float]:  # type: ignore[type-arg]
    from adoscale_lab.sim import from_csv
    from adoscale_lab.sim.workloads import WORKLOADS, named

    if name in WORKLOADS:
        return named(name, days, seed)
    path = Path(name)
    if not path.exists():
        choices = ", ".join(WORKLOADS)
        raise typer.BadParameter(f"not {choices}, or an existing CSV file: {name}", param_hint="--workload")
    try:
        return from_csv(path), 0.0
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--workload") from None


def _quiet_simulated_controller(ctx: typer.Context) -> None:
    """The controller under simulation talks to a simulated organization (the emulator), and its warnings
    describe that organization (it has no parallel-job limit, so every simulated pass says so once): they
    are not the user's to act on, so the command keeps adoscale's loggers at ERROR while it runs."""
    logger = logging.getLogger("adoscale")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    ctx.call_on_close(lambda: logger.setLevel(previous))


def _advance(progress: Progress, task: TaskID, horizon_h: float, hours: float) -> None:
    progress.update(task, completed=min(hours, horizon_h))


@app.command(short_help="Compare scaling designs on a trace of jobs, in virtual time.")
def simulate(
    ctx: typer.Context,
    workload: str = typer.Option(
        "seed-day", "--workload", "-w", help="seed-day, burst, bursty, bursty-steady, quiet, or a CSV trace file."
    ),
    policy: list[str] = typer.Option(
        [],
        "--policy",
        "-p",
        help="Policy to run (repeatable): seed, naive-fast, keda-scaledjob, adoscale, adoscale-standby, "
        "adoscale-hooks, adoscale-backoff, adoscale-predictive. Default: all.",
    ),
    days: int = typer.Option(1, "--days", min=1, help="Days of the seed-day or bursty workloads."),
    seed: int = typer.Option(1, "--seed", help="Random seed (workload, start-up times, faults)."),
    faults: float = typer.Option(0.0, "--faults", min=0.0, max=0.5, help="ADO fault rate: 2/3 5xx, 1/3 429."),
    max_agents: int = typer.Option(50, "--max-agents", min=1, help="The pool's max_agents."),
    spot_interruptions: float = typer.Option(0.0, "--spot-interruptions", min=0.0, help="Per task-hour."),
    capacity_errors: float = typer.Option(0.0, "--capacity-errors", min=0.0, max=1.0, help="Share of launches."),
    image_mb: float = typer.Option(
        1000.0, "--image-mb", min=1.0, help="Agent image size, MB compressed (1000: the published start-up)."
    ),
    zstd: bool = typer.Option(False, "--zstd", help="The image's layers are zstd-compressed."),
    soci: bool = typer.Option(False, "--soci", help="The image has a SOCI index (lazy loading)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    out: Path | None = typer.Option(None, "--out", help="Write PNG plots and a Markdown report here."),
    compute: str = typer.Option(
        "fargate",
        "--compute",
        help="fargate, or both: each policy on Fargate and on EC2 (one instance per job, docs/ec2.md) on the "
        "same trace, their waits and compute cost side by side.",
    ),
    ec2_spot: bool = typer.Option(False, "--ec2-spot", help="With --compute both: EC2 at a typical Spot price."),
) -> None:
    """Compare scaling designs in virtual time, driving adoscale's real reconcile and decision code
    against the ADO emulator's model and a simulated Fargate. One pool; a job that has not started a day
    after the last arrival counts as stranded."""
    if compute not in ("fargate", "both"):
        raise typer.BadParameter(f"{compute!r}: fargate or both", param_hint="--compute")
    _quiet_simulated_controller(ctx)
    if compute == "both":
        _compare_compute(workload, policy, days, seed, max_agents, as_json, ec2_spot)
        raise typer.Exit(EXIT_OK)
    from adoscale_lab.sim import POLICIES, FargateProfile
    from adoscale_lab.sim import simulate as run
    from adoscale_lab.sim.cost import load_prices
    from adoscale_lab.sim.fargate import ImageModel
    from adoscale_lab.sim.report import COLUMNS, markdown, summaries, write_plots

    names = policy or list(POLICIES)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        typer.echo(f"unknown policy: {', '.join(unknown)} (choose from {', '.join(POLICIES)})", err=True)
        raise typer.Exit(EXIT_CONFIG)
    jobs, measure_from_s = _workload(workload, days, seed)
    image = ImageModel(size_mb=image_mb, compression="zstd" if zstd else "gzip", soci=soci)
    profile = FargateProfile(
        capacity_error_rate=capacity_errors, spot_interruption_per_hour=spot_interruptions, image=image
    )
    results = []
    console = Console(stderr=True)
    horizon_h = (max((j.queued_at_s for j in jobs), default=0.0) + 3600) / 3600
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, disable=as_json
    ) as progress:
        for name in names:
            task = progress.add_task(f"{name:<17}", total=horizon_h)
            results.append(
                run(
                    jobs,
                    POLICIES[name],
                    seed=seed,
                    fault_rate=faults,
                    max_agents=max_agents,
                    profile=profile,
                    on_progress=partial(_advance, progress, task, horizon_h),
                    measure_from_s=measure_from_s,
                )
            )
            progress.update(task, completed=horizon_h)
    rows = summaries(results, load_prices())
    if as_json:
        keys = (
            "policy",
            "wait_p50_s",
            "wait_p95_s",
            "wait_max_s",
            "stranded",
            "launched",
            "overlaunched",
            "agent_minutes",
            "idle_agent_minutes",
            "busy_killed",
            "leaked",
            "cost_usd_month",
        )
        typer.echo(json.dumps({"policies": [{k: row[k] for k in keys} | row for row in rows]}, indent=2))
    else:
        labels = [label for _key, label in COLUMNS]
        cells = [[str(row[key]) for key, _ in COLUMNS] for row in rows]
        title = f"adoscale simulate — {workload}, {len(jobs)} jobs, seed {seed}"
        print_rows(Console(), title, labels, cells, right=labels[1:])
    if out is not None:
        paths = write_plots(results, out)
        notes = [f"Workload `{workload}` ({len(jobs)} jobs), seed {seed}, faults {faults}, max_agents {max_agents}."]
        if measure_from_s:
            notes.append(f"Measured from hour {measure_from_s / 3600:g} (the last day); earlier days are history.")
        (out / "report.md").write_text(markdown(rows, "Simulation report", notes))
        console.print(f"wrote {', '.join(str(p) for p in paths)} and {out / 'report.md'}")
    raise typer.Exit(EXIT_OK)


def _compare_compute(
    workload: str, policy: list[str], days: int, seed: int, max_agents: int, as_json: bool, spot: bool
) -> None:
    """`simulate --compute both`: the pool type's effect on the same trace (adoscale_lab.sim.ec2)."""
    from adoscale_lab.sim import POLICIES
    from adoscale_lab.sim.ec2 import compare

    names = policy or ["adoscale"]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        typer.echo(f"unknown policy: {', '.join(unknown)} (choose from {', '.join(POLICIES)})", err=True)
        raise typer.Exit(EXIT_CONFIG)
    jobs, measure_from_s = _workload(workload, days, seed)
    rows = [
        row
        for name in names
        for row in compare(
            jobs, POLICIES[name], seed=seed, max_agents=max_agents, measure_from_s=measure_from_s, spot=spot
        )
    ]
    if as_json:
        typer.echo(json.dumps({"compute": rows}, indent=2))
        return
    columns = tuple(rows[0])
    title = f"adoscale simulate --compute both — {workload}, {len(jobs)} jobs, seed {seed}"
    cells = [[str(value) for value in row.values()] for row in rows]
    print_rows(Console(), title, columns, cells, right=[c for c in columns if c not in ("compute", "policy")])


@app.command(short_help="The monthly AWS bill per design, from a dated price file.")
def cost(
    ctx: typer.Context,
    interval: float | None = typer.Option(
        None,
        "--interval",
        min=1.0,
        help="Price a simpler schedule instead: one workflow execution every INTERVAL seconds, each observing the "
        "pools --observations times (the original design priced every 120 s). Default: what Terraform deploys, an "
        "execution a minute with a round every 15 s.",
        show_default=False,
    ),
    observations: int = typer.Option(1, "--observations", min=1, help="With --interval: observations per execution."),
    pools: int = typer.Option(1, "--pools", min=1, help="Agent pools."),
    jobs_per_day: float = typer.Option(100.0, "--jobs-per-day", min=0.0, help="Pipeline jobs a day."),
    job_minutes: float = typer.Option(5.0, "--job-minutes", min=0.0, help="Minutes a job runs."),
    vcpu: float = typer.Option(0.25, "--vcpu", min=0.25, help="vCPU per agent task."),
    memory_gb: float = typer.Option(0.5, "--memory-gb", min=0.5, help="GB of memory per agent task."),
    spot_share: float = typer.Option(0.0, "--spot-share", min=0.0, max=1.0, help="Share of agents on Fargate Spot."),
    network: str = typer.Option(
        "nat",
        "--network",
        help="The agents' network, as Terraform's network_mode (default nat, as deployed): nat, public, endpoints, "
        "or none (your own VPC, not counted).",
    ),
    prices: Path | None = typer.Option(
        None, "--prices", help="A price file like the built-in one (every price it has).", dir_okay=False
    ),
    deployed: bool = typer.Option(False, "--deployed", hidden=True, help="The default now; kept for scripts."),
    designs: bool = typer.Option(
        False,
        "--designs",
        help="Instead: the control plane's monthly cost and Azure DevOps calls a day for each design (the original "
        "design's 2-minute schedule, adoscale without hooks, adoscale with hooks and the schedule's back-off, and "
        "the same with the essential metrics and no dashboard), each run in the simulator over whole days of "
        "--workload on --compute.",
    ),
    workload: str = typer.Option(
        "seed-day",
        "--workload",
        "-w",
        help="With --designs: a built-in trace (default: a working day of about 100 five-minute jobs) or a CSV.",
        show_default=False,
    ),
    compute: str = typer.Option("fargate", "--compute", help="With --designs: fargate or ec2 pools."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Estimate adoscale's monthly AWS bill from a dated price file: by default for what Terraform deploys
    (the workflow every minute, a round every 15 s, a NAT gateway) running 100 jobs a day of 5 minutes on
    0.25 vCPU and 512 MB agents in us-east-1. Fixed charges (the NAT gateway) are paid even with no job."""
    from adoscale_lab.sim.cost import NETWORK_MODES, Usage, deployed_workflow, load_prices, monthly_costs, usage_dict

    if designs:
        _quiet_simulated_controller(ctx)
        _designs(workload, compute, 1, _prices_or_exit(prices, load_prices), as_json)
        raise typer.Exit(EXIT_OK)
    if network not in NETWORK_MODES:
        raise typer.BadParameter(f"{network!r}: expected one of {', '.join(NETWORK_MODES)}", param_hint="--network")
    usage = replace(
        Usage(),
        workflow_interval_s=interval or 120.0,
        observations_per_execution=observations,
        pools=pools,
        jobs_per_day=jobs_per_day,
        job_minutes=job_minutes,
        vcpu=vcpu,
        memory_gb=memory_gb,
        spot_share=spot_share,
        network_mode=network,
    )
    if interval is None:
        usage = replace(deployed_workflow(usage), launches_per_day=jobs_per_day)
    price_data = _prices_or_exit(prices, load_prices)
    lines = monthly_costs(usage, price_data)
    total = sum(line.monthly_usd for line in lines)
    if as_json:
        body = {
            "as_of": price_data.get("as_of"),
            "schedule": "deployed" if interval is None else f"every {interval:g} s",
            "usage": usage_dict(usage),
            "lines": [{f.name: getattr(line, f.name) for f in fields(line)} for line in lines],
            "total_usd_month": round(total, 2),
        }
        typer.echo(json.dumps(body, indent=2))
        raise typer.Exit(EXIT_OK)
    rows = [[line.service, f"{line.monthly_usd:.2f}", line.basis] for line in lines]
    rows.append(["total", f"{total:.2f}", ""])
    title = f"Monthly cost estimate (prices as of {price_data.get('as_of')}, {price_data.get('region')})"
    print_rows(Console(), title, ("service", "USD / month", "basis"), rows, right=("USD / month",), wrap=("basis",))
    raise typer.Exit(EXIT_OK)


def _designs(workload: str, compute: str, seed: int, price_data: dict[str, Any], as_json: bool) -> None:
    """`cost --designs`: `adoscale_lab.sim.report.control_plane_rows` as a table or JSON."""
    from adoscale_lab.sim.cost import DESIGNS, SCHEDULE_DRIVEN
    from adoscale_lab.sim.report import control_plane_rows

    if compute not in ("fargate", "ec2"):
        raise typer.BadParameter(f"{compute!r}: fargate or ec2", param_hint="--compute")
    jobs, measure_from_s = _workload(workload, 1, seed)
    rows = control_plane_rows(jobs, price_data, seed=seed, compute=compute, measure_from_s=measure_from_s)
    if as_json:
        body = {"as_of": price_data.get("as_of"), "workload": workload, "compute": compute, "designs": rows}
        typer.echo(json.dumps(body, indent=2))
        return
    services = list(rows[0]["lines"])
    labels = ["design", "p50 s", "p95 s", "ADO calls/day", "executions/day", *services, "schedule", "watch", "total"]
    cells = [
        [
            str(row["design"]),
            str(row["wait_p50_s"]),
            str(row["wait_p95_s"]),
            f"{row['ado_calls_day']:,}",
            f"{row['observing_day']:,}",
            *(f"{row['lines'][name]:.3f}" for name in services),
            f"{row['schedule_usd_month']:.3f}",
            f"{row['watch_usd_month']:.3f}",
            f"{row['total_usd_month']:.3f}",
        ]
        for row in rows
    ]
    title = f"Control plane per design, USD a month — {workload} on {compute} (prices as of {price_data.get('as_of')})"
    print_rows(Console(), title, labels, cells, right=labels[1:])
    described = "; ".join(f"{d.name}: {d.description}" for d in DESIGNS.values())
    Console().print(
        f"{described}. The schedule column is the lines the design drives ({', '.join(sorted(SCHEDULE_DRIVEN))}); "
        "watch, what the deployment watches with (custom metrics and their requests, alarms, dashboard: Terraform's "
        "metrics and create_dashboard); total, both. Free tiers ignored."
    )


def _prices_or_exit(path: Path | None, load: Callable[[Path | None], dict[str, Any]]) -> dict[str, Any]:
    """The price file, refused in one line (exit 2) when it cannot be read or lacks a price the built-in one
    has: an estimate with a price missing would be wrong without saying so."""
    builtin = load(None)
    if path is None:
        return builtin
    try:
        data = load(path)
    except OSError as exc:
        raise typer.BadParameter(f"{path}: cannot be read ({exc.strerror or exc})", param_hint="--prices") from None
    except ValueError as exc:
        raise typer.BadParameter(f"{path}: not JSON ({exc})", param_hint="--prices") from None
    given = data if isinstance(data, dict) else {}
    missing = [
        f"{section}.{key}"
        for section, entries in builtin.items()
        if isinstance(entries, dict)
        for key, value in entries.items()
        if isinstance(value, int | float) and not isinstance(_section(given, section).get(key), int | float)
    ]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise typer.BadParameter(f"{path}: missing prices: {shown}", param_hint="--prices")
    return data


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    section = data.get(name)
    return section if isinstance(section, dict) else {}
