"""`adoscale environments sweep`: remove VM resources whose EC2 instance is gone."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from adoscale.ado.client import AdoClient
from adoscale.aws import error_code, make_client
from adoscale.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, app
from adoscale.cli.common import (
    ConfigOption,
    ado_errors_exit,
    fail,
    load_or_exit,
    one_line,
    pat_or_exit,
    print_rows,
    setup_logging,
)
from adoscale.environments import Ec2Instances, StateTable, sweep

environments_app = typer.Typer(help="Environment VMs: keep VM resources in step with EC2.", no_args_is_help=True)
app.add_typer(environments_app, name="environments")


@environments_app.command("sweep", short_help="Remove the VM resources of instances that are provably gone.")
def sweep_command(
    config: Path = ConfigOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be removed; remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    state_table: str | None = typer.Option(
        None,
        "--state-table",
        envvar="ADOSCALE_STATE_TABLE",
        help="The lifecycle function's DynamoDB state table (Terraform output): an instance EC2 no longer "
        "knows is removed only if this deployment recorded it there.",
    ),
) -> None:
    """Remove VM resources of the configured Environments whose instance is provably gone: reported
    terminated by EC2 in this region, or recorded at launch (--state-table) and no longer known to EC2;
    once older than the Environment's grace period. Anything else is left and listed. Exit 1 when an
    Environment could not be swept (the others are), 3 when ADO refuses the PAT."""
    setup_logging()
    cfg = load_or_exit(config)
    if not cfg.environments:
        fail("nothing to sweep", f"{config}: no `environments` configured")
        raise typer.Exit(EXIT_CONFIG)
    pat = pat_or_exit(cfg)
    try:
        with ado_errors_exit(), AdoClient(cfg.organization_url, pat) as ado:
            records = StateTable(make_client("dynamodb"), state_table) if state_table else None
            results = sweep(
                ado,
                Ec2Instances(make_client("ec2")),
                cfg.environments,
                lambda: datetime.now(UTC),
                records=records,
                dry_run=dry_run,
            )
    except (BotoCoreError, ClientError) as exc:
        fail("AWS call failed", f"EC2 or DynamoDB: {error_code(exc) or type(exc).__name__}")
        raise typer.Exit(EXIT_FAILED) from None
    code = EXIT_FAILED if any(r.error for r in results) else EXIT_OK
    if as_json:
        typer.echo(json.dumps({"results": [asdict(r) for r in results]}, indent=2))
        raise typer.Exit(code)
    rows = [
        [f"{r.project}/{r.environment}", str(r.resource_id), r.name, "yes" if r.removed else "no", one_line(r.reason)]
        for r in results
    ]
    title = "adoscale environments sweep" + (" (dry run)" if dry_run else "")
    print_rows(Console(), title, ("environment", "resource", "name", "removed", "reason"), rows)
    raise typer.Exit(code)
