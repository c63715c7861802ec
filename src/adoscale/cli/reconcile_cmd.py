"""`adoscale reconcile`, `adoscale serve` and `adoscale config …`: the controller from a terminal."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console

from adoscale import bootstrap
from adoscale.ado.errors import AdoAuthError
from adoscale.cli import EXIT_AUTH, EXIT_CONFIG, EXIT_FAILED, EXIT_OK, app
from adoscale.cli.common import (
    ConfigOption,
    VerboseOption,
    fail,
    lease_table_or_exit,
    load_or_exit,
    one_line,
    pat_or_exit,
    print_rows,
    setup_logging,
)
from adoscale.config import Config, ConfigError, Settings
from adoscale.control import PassReport, Reconciler, ServeEnd, serve_loop
from adoscale.hooks import HookValidator, resolve_hook_secret
from adoscale.hooks.server import HookServer, PendingPools
from adoscale.hooks.validate import DEFAULT_MAX_AGE_S


@contextmanager
def controller(config: Config, pat: str | None = None) -> Iterator[Reconciler]:
    """The controller on the real Azure DevOps and ECS (endpoints from the standard AWS settings), wired by
    the one composition root as the Lambdas are: the lease and the warm pool's history in the lease table
    (`lease_table`, else `ADOSCALE_LEASE_TABLE`), else no lease (with a warning) and history in memory. A
    lease table that does not exist stops here (exit 2), dry runs included. `pat`: a PAT already read (serve,
    after a rotation); else it is read now."""
    settings = Settings.from_env()
    token = pat if pat is not None else pat_or_exit(config)
    lease_table_or_exit(config.lease_table or settings.lease_table)
    with bootstrap.controller(config, settings, pat=token, warn_unleased=pat is None) as rec:
        yield rec


COUNTS = ("queued", "running", "idle", "starting", "launched", "drained", "stopped", "deleted")


def render_report(report: PassReport, console: Console) -> None:
    rows = [[pool.pool, *(str(getattr(pool, name)) for name in COUNTS)] for pool in report.pools]
    notes = [
        ([f"skipped: {pool.skipped}"] if pool.skipped else [])
        + [f"error: {one_line(e)}" for e in pool.errors]
        + [f"warning: {one_line(w)}" for w in pool.warnings]
        for pool in report.pools
    ]
    print_rows(console, "adoscale reconcile", ("pool", *COUNTS), rows, notes=notes, right=COUNTS)


def _run_pass(reconciler: Reconciler, pools: list[str] | None, dry_run: bool) -> PassReport:
    try:
        # A dry run is the same observe and decide, with the plan printed instead of acted on.
        return reconciler.preview_all(pools) if dry_run else reconciler.run(pools)
    except AdoAuthError as exc:
        fail("Azure DevOps authentication failed", str(exc))
        raise typer.Exit(EXIT_AUTH) from None


@app.command(short_help="Run one pass over each pool: observe, decide, act.")
def reconcile(
    config: Path = ConfigOption,
    pool: list[str] | None = typer.Option(None, "--pool", "-p", help="Only this pool (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compute the plan and change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    verbose: int = VerboseOption,
) -> None:
    """Run one reconcile pass: observe each pool, decide, act.

    A pool whose lease another pass holds is skipped and says so (not an error). Exit codes: 0 done, 1 a
    pool failed, 2 invalid configuration, 3 Azure DevOps authentication failed.
    """
    setup_logging(verbose)
    cfg = load_or_exit(config)
    unknown = sorted(set(pool or []) - {p.name for p in cfg.pools})
    if unknown:
        fail("unknown pool", f"{config}: no pool named {', '.join(unknown)}")
        raise typer.Exit(EXIT_CONFIG)
    with controller(cfg) as reconciler:
        report = _run_pass(reconciler, pool, dry_run)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        render_report(report, Console())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)


class _Shutdown(BaseException):
    """A signal arrived: serve stops where it is. A pass under way is abandoned (the next one repairs it;
    `adoscale.lease.while_held` gives its lease back on the way out)."""


class SignalStop:
    """`serve`'s SIGTERM/SIGINT handler. Python runs it in the main thread between two bytecodes of whatever
    that thread is doing, so it takes no lock the main thread might be holding at that moment (waking the
    loop's `PendingPools` would take its Event's lock, which the main thread holds inside `Event.wait`: a
    deadlock). It raises instead, which also ends a read blocked on a slow answer: the first signal always,
    a later one only during a pass (so that insisting still escapes a hung lease release, and a signal
    during the final clean-up does not end in a traceback)."""

    def __init__(self, stop: threading.Event, in_pass: threading.Event) -> None:
        self.stop = stop
        self.in_pass = in_pass
        self._raised = False

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        # (logging's locks are re-entrant: a record being written when the signal came is no deadlock)
        logging.getLogger("adoscale.serve").info("signal %s: stopping", signum)
        self.stop.set()  # for a loop that is not in the main thread; nothing here waits on it
        if not self._raised or self.in_pass.is_set():
            self._raised = True
            raise _Shutdown


@app.command(short_help="Reconcile in a loop, and on hooks, until SIGTERM or Ctrl-C.")
def serve(
    config: Path = ConfigOption,
    interval: float = typer.Option(30.0, "--interval", min=1.0, help="Seconds between passes."),
    hooks_port: int | None = typer.Option(
        None,
        "--hooks-port",
        min=0,
        max=65535,
        help="Also accept Azure DevOps service hooks on 127.0.0.1:PORT: a valid job-waiting hook starts "
        "that pool's pass at once (docs/hooks.md). The secret comes from ADOSCALE_HOOK_SECRET or hooks.secret_name.",
    ),
    verbose: int = VerboseOption,
) -> None:
    """Reconcile in a loop until SIGTERM or Ctrl-C, which stop it within a few seconds whatever Azure
    DevOps is doing: a pass under way is abandoned (every action is idempotent, and the next pass repairs
    a half-done one). With --hooks-port, a hook starts its pool's pass between scheduled ones. Logs a line
    per pool and pass (INFO: its record) unless told otherwise."""
    setup_logging(verbose, base=1)
    cfg = load_or_exit(config)
    log = logging.getLogger("adoscale.serve")
    stop = threading.Event()
    in_pass = threading.Event()
    pending = PendingPools()
    hooks = _hook_server(cfg, hooks_port, pending) if hooks_port is not None else None

    previous: dict[signal.Signals, Any] = {}
    on_signal = SignalStop(stop, in_pass)
    try:
        # Installed inside the `try`, so that a signal arriving from here on ends in `except _Shutdown`.
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
        if hooks is not None:
            hooks.start()
            log.info("accepting hooks on %s?pool=NAME", hooks.url)
        pat = pat_or_exit(cfg)
        with controller(cfg, pat) as reconciler:
            outcome = serve_loop(reconciler, interval=interval, stop=stop, pending=pending, in_pass=in_pass)
        while outcome.end is ServeEnd.AUTH_FAILED:
            # Rotation: a refused PAT is read again from its source once; a new value carries on with a
            # controller on it, the same value ends serve (exit 3).
            fresh = pat_or_exit(cfg)
            if fresh == pat:
                fail("Azure DevOps authentication failed", outcome.detail)
                raise typer.Exit(EXIT_AUTH)
            log.warning("Azure DevOps refused the PAT and its source holds a new one (rotated): carrying on with it")
            pat = fresh
            with controller(cfg, pat) as reconciler:
                outcome = serve_loop(reconciler, interval=interval, stop=stop, pending=pending, in_pass=in_pass)
    except _Shutdown:
        log.info("stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if hooks is not None:
            hooks.close()
    raise typer.Exit(EXIT_OK)


def _hook_server(cfg: Config, port: int, pending: PendingPools) -> HookServer:
    try:
        secret = resolve_hook_secret(cfg, Settings.from_env())
    except ConfigError as exc:
        fail("no hook secret", str(exc))
        raise typer.Exit(EXIT_CONFIG) from None
    max_age = cfg.hooks.max_age_seconds if cfg.hooks is not None else DEFAULT_MAX_AGE_S
    validator = HookValidator(secret, [p.name for p in cfg.pools], max_age_s=max_age)
    try:
        return HookServer(validator, pending.request, port=port)
    except OSError as exc:
        fail("cannot listen for hooks", f"127.0.0.1:{port}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_CONFIG) from None
