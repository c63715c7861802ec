"""`adoscale package`: build the Lambda zip reproducibly."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from adoscale.cli import EXIT_FAILED, EXIT_OK, app


@app.command(short_help="Build the Lambda zip (reproducible; every handler imports).")
def package(
    out: Path = typer.Option(Path("dist/adoscale-lambda.zip"), "--out", help="The zip to write."),
    platform: str = typer.Option("manylinux2014_aarch64", "--platform", help="pip platform tag (arm64 Lambda)."),
    python: str = typer.Option("3.12", "--python", help="The Lambda runtime's Python version."),
    build_dir: Path = typer.Option(Path("build/lambda-deps"), "--build-dir", help="Where dependencies are installed."),
    source_only: bool = typer.Option(False, "--source-only", help="Only adoscale's code (e.g. with a layer)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (path, bytes, sha256) as JSON."),
) -> None:
    """Build the Lambda package: the whole product package (never the rig: emulator, simulator, demo) with
    arm64 dependencies installed by pip --platform, boto3 left to the runtime; the same inputs give the same
    bytes. Refuses a package a deployed handler could not import from. Prints the size and SHA-256."""
    from adoscale_lab.packaging import PackageError, build_zip, install_dependencies

    dependencies = None
    if not source_only:
        install_dependencies(build_dir, platform=platform, python=python)
        dependencies = build_dir
    try:
        digest = build_zip(out, dependencies)
    except PackageError as exc:
        typer.echo(f"adoscale package: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    size = out.stat().st_size
    if as_json:
        typer.echo(json.dumps({"path": str(out), "bytes": size, "sha256": digest, "source_only": source_only}))
        raise typer.Exit(EXIT_OK)
    typer.echo(f"{out}: {size / 1e6:.2f} MB, sha256 {digest}")
    raise typer.Exit(EXIT_OK)
