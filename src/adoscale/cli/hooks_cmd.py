"""`adoscale hooks install|list|remove`: the webHooks subscriptions that send job events to adoscale."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console

from adoscale.ado.client import AdoClient
from adoscale.cli import EXIT_CONFIG, EXIT_OK, app
from adoscale.cli.common import (
    ConfigOption,
    JsonOption,
    ado_errors_exit,
    fail,
    load_or_exit,
    pat_or_exit,
    print_rows,
    setup_logging,
)
from adoscale.config import Config, ConfigError, Settings
from adoscale.hooks import resolve_hook_secret
from adoscale.hooks.subscriptions import EndpointError, Installed, adoscale_subscriptions, subscription_body

hooks_app = typer.Typer(help="Service hooks: job events that start a pool's pass at once.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")

PoolOption = typer.Option(None, "--pool", "-p", help="Only this pool (repeatable); default every configured pool.")


@contextmanager
def _ado(cfg: Config) -> Iterator[AdoClient]:
    with ado_errors_exit(), AdoClient(cfg.organization_url, pat_or_exit(cfg)) as ado:
        yield ado


def _pools(cfg: Config, config: Path, wanted: list[str] | None) -> list[str]:
    names = [p.name for p in cfg.pools]
    unknown = sorted(set(wanted or []) - set(names))
    if unknown:
        fail("unknown pool", f"{config}: no pool named {', '.join(unknown)}")
        raise typer.Exit(EXIT_CONFIG)
    return [n for n in names if not wanted or n in wanted]


@hooks_app.command("install", short_help="Subscribe each pool to job events; repair disabled ones.")
def install(
    config: Path = ConfigOption,
    url: str = typer.Option(..., "--url", help="The endpoint: the HTTP API's /hooks URL (terraform output hook_url)."),
    pool: list[str] | None = PoolOption,
    project_id: str | None = typer.Option(
        None, "--project-id", help="Only jobs of this project (its GUID); the service may require one."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Subscribe each pool's endpoint (`URL?pool=NAME`) to "Run job state changed" (Waiting), with the
    shared secret as the Basic-auth password. A pool whose subscription for this URL is enabled is left
    alone, so running it again is safe; one on probation or disabled is replaced (deleted and created
    again, enabled), which repairs it."""
    setup_logging()
    cfg = load_or_exit(config)
    names = _pools(cfg, config, pool)
    try:
        secret = resolve_hook_secret(cfg, Settings.from_env())
        bodies = {name: subscription_body(url, name, secret, project_id) for name in names}
    except ConfigError as exc:
        fail("no hook secret", str(exc))
        raise typer.Exit(exc.exit_code) from None
    except EndpointError as exc:
        fail("invalid --url", str(exc))
        raise typer.Exit(EXIT_CONFIG) from None
    results: list[dict[str, str | None]] = []
    with _ado(cfg) as ado:
        existing: dict[str, list[Installed]] = {}
        for sub in adoscale_subscriptions(ado.list_subscriptions()):
            existing.setdefault(sub.url, []).append(sub)
        for name, body in bodies.items():
            target = body["consumerInputs"]["url"]
            found = existing.get(target, [])
            healthy = next((sub for sub in found if sub.healthy), None)
            if healthy is not None:
                results.append({"pool": name, "action": "already subscribed", "id": healthy.id, "url": target})
                if not as_json:
                    typer.echo(f"{name}: already subscribed ({target})")
                continue
            for sub in found:  # on probation or disabled: events are lost until it is replaced
                ado.delete_subscription(sub.id)
                if not as_json:
                    typer.echo(f"{name}: removed {sub.id} ({sub.status or 'no status'})")
            created = ado.create_subscription(body)
            verb = "repaired" if found else "subscribed"
            results.append({"pool": name, "action": verb, "id": created.get("id"), "url": target})
            if not as_json:
                typer.echo(f"{name}: {verb} {created.get('id', '?')} -> {target}")
    if as_json:
        typer.echo(json.dumps({"subscriptions": results}, indent=2))
    raise typer.Exit(EXIT_OK)


@hooks_app.command("list", short_help="adoscale's subscriptions, each one's pool and state.")
def list_command(
    config: Path = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """adoscale's subscriptions (recognised by their Basic-auth user name), with the pool each serves and
    its state as the service reports it (`enabled`; `onProbation`, `disabledBySystem` ...: events are lost,
    `adoscale hooks install` repairs it)."""
    setup_logging()
    cfg = load_or_exit(config)
    with _ado(cfg) as ado:
        found = adoscale_subscriptions(ado.list_subscriptions())
    if as_json:
        typer.echo(json.dumps([{**asdict(s), "healthy": s.healthy} for s in found], indent=2))
        raise typer.Exit(EXIT_OK)
    configured = {p.name for p in cfg.pools}
    rows = [
        [
            sub.pool if sub.pool in configured else f"{sub.pool} (not configured)",
            sub.status if sub.healthy else f"{sub.status or 'unknown'} (events lost: run hooks install)",
            sub.id,
            sub.url,
        ]
        for sub in found
    ]
    print_rows(Console(), "adoscale hooks", ("pool", "status", "id", "url"), rows)
    raise typer.Exit(EXIT_OK)


@hooks_app.command("remove", short_help="Delete adoscale's subscriptions (all or some); never others'.")
def remove(
    config: Path = ConfigOption,
    pool: list[str] | None = typer.Option(
        None, "--pool", "-p", help="Only this pool's subscriptions (repeatable); default all of adoscale's."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Delete adoscale's subscriptions (all, or those of the given pools). Others' are never touched. A
    --pool that is not configured exits 2, as with `install`; to remove the subscriptions of a pool no
    longer in the configuration, run without --pool."""
    setup_logging()
    cfg = load_or_exit(config)
    if pool:
        _pools(cfg, config, pool)
    removed: list[dict[str, str]] = []
    with _ado(cfg) as ado:
        for sub in adoscale_subscriptions(ado.list_subscriptions()):
            if pool and sub.pool not in pool:
                continue
            if ado.delete_subscription(sub.id):
                removed.append({"pool": sub.pool, "id": sub.id, "url": sub.url})
                if not as_json:
                    typer.echo(f"{sub.pool}: removed {sub.id}")
    if as_json:
        typer.echo(json.dumps({"removed": removed}, indent=2))
    else:
        typer.echo(f"{len(removed)} subscription(s) removed")
    raise typer.Exit(EXIT_OK)
