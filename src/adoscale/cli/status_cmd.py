"""`adoscale status`: each configured pool as the next pass would find it, without changing anything."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from adoscale.aws import error_code, make_client
from adoscale.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, app
from adoscale.cli.common import (
    ConfigOption,
    JsonOption,
    VerboseOption,
    fail,
    load_or_exit,
    one_line,
    print_rows,
    setup_logging,
)
from adoscale.cli.reconcile_cmd import controller
from adoscale.config import Config
from adoscale.control import PoolReport, Reconciler


@dataclass(frozen=True, slots=True)
class LeaseState:
    """A pool's lease as the table holds it: who holds it and until when, or free."""

    holder: str | None
    expires_at: datetime | None
    error: str | None = None

    def describe(self, now: datetime) -> str:
        if self.error:
            return f"unknown ({self.error})"
        if self.holder is None or self.expires_at is None or self.expires_at <= now:
            return "free"
        return f"{self.holder} until {self.expires_at.strftime('%H:%M:%S')}Z"

    def as_dict(self, now: datetime) -> dict[str, Any]:
        held = self.holder is not None and self.expires_at is not None and self.expires_at > now
        return {
            "held": held,
            "holder": self.holder if held else None,
            "expires_at": self.expires_at.isoformat(timespec="seconds") if held and self.expires_at else None,
            "error": self.error,
        }


def read_lease(dynamodb: Any, table: str, pool: str) -> LeaseState:
    """One GetItem (consistent: the holder as of now) on the lease table's item for `pool`."""
    try:
        item = dynamodb.get_item(TableName=table, Key={"pool": {"S": pool}}, ConsistentRead=True).get("Item")
    except Exception as exc:
        return LeaseState(None, None, error=error_code(exc) or type(exc).__name__)
    if not item:
        return LeaseState(None, None)
    expires = item.get("expires_at", {}).get("N")
    return LeaseState(
        str(item.get("owner", {}).get("S", "unknown")),
        datetime.fromtimestamp(float(expires), UTC) if expires else None,
    )


COLUMNS = ("pool", "queued", "oldest wait", "unservable", "busy", "idle", "starting", "warm", "lease")


def _wait(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _snapshot(
    cfg: Config, reconciler: Reconciler, pools: list[str] | None
) -> tuple[list[PoolReport], dict[str, LeaseState]]:
    # A preview is the pass's own observation and decision, acting on nothing and taking no lease.
    report = reconciler.preview_all(pools)
    leases: dict[str, LeaseState] = {}
    if cfg.lease_table:
        dynamodb = make_client("dynamodb")
        leases = {p.pool: read_lease(dynamodb, cfg.lease_table, p.pool) for p in report.pools}
    return report.pools, leases


def _as_dict(report: PoolReport, lease: LeaseState | None, now: datetime) -> dict[str, Any]:
    return {
        "pool": report.pool,
        "queued": report.queued,
        "oldest_queued_s": report.oldest_queued_s,
        "unservable": report.unservable,
        "running": report.running,
        "busy": report.busy,
        "idle": report.idle,
        "starting": report.starting,
        "warm": report.warm,
        "lease": lease.as_dict(now) if lease is not None else None,
        "errors": report.errors,
        "warnings": report.warnings,
    }


def _render(reports: list[PoolReport], leases: dict[str, LeaseState], now: datetime, console: Console) -> None:
    rows = [
        [
            r.pool,
            str(r.queued),
            _wait(r.oldest_queued_s),
            str(r.unservable),
            str(r.busy),
            str(r.idle),
            str(r.starting),
            str(r.warm),
            leases[r.pool].describe(now) if r.pool in leases else "no lease table",
        ]
        for r in reports
    ]
    notes = [
        [f"error: {one_line(e)}" for e in r.errors] + [f"warning: {one_line(w)}" for w in r.warnings] for r in reports
    ]
    title = f"adoscale status {now.strftime('%Y-%m-%d %H:%M:%S')}Z"
    print_rows(console, title, COLUMNS, rows, notes=notes, right=COLUMNS[1:8], wrap=("lease",))


@app.command(short_help="Each pool's queue, agents, warm target and lease (read-only).")
def status(
    config: Path = ConfigOption,
    pool: list[str] | None = typer.Option(None, "--pool", "-p", help="Only this pool (repeatable)."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh until Ctrl-C."),
    interval: float = typer.Option(5.0, "--interval", min=1.0, help="Seconds between refreshes with --watch."),
    as_json: bool = JsonOption,
    verbose: int = VerboseOption,
) -> None:
    """Each configured pool as a pass would find it, changing nothing: queued jobs (and how long the oldest
    has waited), jobs no agent of the pool can run (unservable), busy, idle and starting agents, the warm
    target, and who holds the pool's lease until when. Exit codes as for `reconcile`: 0 done, 1 a pool could
    not be observed, 2 invalid configuration, 3 Azure DevOps authentication failed."""
    setup_logging(verbose)
    cfg = load_or_exit(config)
    unknown = sorted(set(pool or []) - {p.name for p in cfg.pools})
    if unknown:
        fail("unknown pool", f"{config}: no pool named {', '.join(unknown)}")
        raise typer.Exit(EXIT_CONFIG)
    if not cfg.pools:
        fail("nothing to show", f"{config}: no `pools` configured")
        raise typer.Exit(EXIT_CONFIG)
    console = Console()
    try:
        with controller(cfg) as reconciler:
            while True:
                code = _show(cfg, reconciler, pool, console, as_json=as_json, watch=watch)
                if not watch:
                    raise typer.Exit(code)
                time.sleep(interval)  # the refresh period the user asked for, not a wait for a condition
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None


def _show(
    cfg: Config, reconciler: Reconciler, pools: list[str] | None, console: Console, *, as_json: bool, watch: bool
) -> int:
    reports, leases = _snapshot(cfg, reconciler, pools)
    now = datetime.now(UTC)
    if as_json:
        body = {
            "at": now.isoformat(timespec="seconds"),
            "pools": [_as_dict(r, leases.get(r.pool), now) for r in reports],
        }
        typer.echo(json.dumps(body, indent=None if watch else 2))
    else:
        if watch and console.is_terminal:
            console.clear()
        _render(reports, leases, now, console)
    return EXIT_FAILED if any(r.errors for r in reports) else EXIT_OK
