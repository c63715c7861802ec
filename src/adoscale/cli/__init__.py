"""The `adoscale` command line.

Each command group lives in its own module beside this one; this module only assembles them.
Exit codes scripts can rely on: 0 done, 1 anything else, 2 invalid configuration or usage,
3 Azure DevOps authentication failed.
"""

from __future__ import annotations

import typer

from adoscale import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3

app = typer.Typer(
    name="adoscale",
    help="Autoscaled, ephemeral Azure DevOps agents on AWS (ECS Fargate pools and EC2 Environment VMs).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Autoscaled, ephemeral Azure DevOps agents on AWS."""


def main() -> None:
    # Imported here, not at module import, so that each command module can register itself on `app`.
    from adoscale.cli.commands import register

    register()
    app()
