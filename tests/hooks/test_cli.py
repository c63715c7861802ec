"""`adoscale hooks install|list|remove` against the emulator's Service Hooks API over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoscale.ado import AdoClient
from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.hooks.subscriptions import EndpointError, delivery_url
from tests.conftest import PAT
from tests.hooks.payloads import SECRET

ECS = {"cluster": "c", "task_definition": "t", "subnets": ["subnet-1"]}


@pytest.fixture
def config_file(tmp_path: Path, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    register()
    monkeypatch.setenv("AZP_TOKEN", PAT)
    monkeypatch.setenv("ADOSCALE_HOOK_SECRET", SECRET)
    path = tmp_path / "adoscale.json"
    pools = [{"name": "linux", "ecs": ECS}, {"name": "gpu", "ecs": ECS}]
    path.write_text(json.dumps({"organization_url": org_url, "pools": pools}))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["hooks", *args])
    return result.exit_code, result.output


def test_install_is_idempotent_list_shows_pools_remove_spares_others(config_file: Path, org_url: str) -> None:
    url = "http://127.0.0.1:9/hooks"
    with AdoClient(org_url, PAT) as ado:
        foreign = ado.create_subscription(
            {
                "publisherId": "pipelines",
                "eventType": "ms.vss-pipelines.job-state-changed-event",
                "consumerId": "webHooks",
                "consumerInputs": {"url": "http://127.0.0.1:9/someone-else"},
            }
        )
    code, out = run("install", "-c", str(config_file), "--url", url)
    assert code == 0 and out.count("subscribed") == 2, out
    code, out = run("install", "-c", str(config_file), "--url", url, "--pool", "linux")
    assert code == 0 and "already subscribed" in out, out
    assert SECRET not in out

    code, out = run("list", "-c", str(config_file), "--json")
    listed = json.loads(out)
    assert code == 0 and sorted(s["pool"] for s in listed) == ["gpu", "linux"]
    assert {s["url"] for s in listed} == {f"{url}?pool=linux", f"{url}?pool=gpu"}

    code, out = run("remove", "-c", str(config_file), "--pool", "gpu")
    assert code == 0 and "1 subscription(s) removed" in out
    code, out = run("remove", "-c", str(config_file))
    assert code == 0 and "1 subscription(s) removed" in out
    with AdoClient(org_url, PAT) as ado:
        assert [s["id"] for s in ado.list_subscriptions()] == [foreign["id"]]
        assert ado.delete_subscription(foreign["id"]) and not ado.delete_subscription(foreign["id"])


def test_install_refuses_plain_http_an_unknown_pool_and_a_missing_secret(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run("install", "-c", str(config_file), "--url", "http://hooks.example.com/")
    assert code == 2 and "https" in out
    code, out = run("install", "-c", str(config_file), "--url", "https://x.example/", "--pool", "windows")
    assert code == 2 and "no pool named windows" in out
    monkeypatch.delenv("ADOSCALE_HOOK_SECRET")
    code, out = run("install", "-c", str(config_file), "--url", "https://x.example/")
    assert code == 2 and "no hook secret" in out


def test_delivery_urls_carry_the_pool_escaped() -> None:
    assert delivery_url("https://x.lambda-url.us-east-1.on.aws/", "linux x64") == (
        "https://x.lambda-url.us-east-1.on.aws/?pool=linux+x64"
    )
    with pytest.raises(EndpointError):
        delivery_url("https://x.example/?a=b", "linux")


@pytest.fixture
def statuses(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Subscription states the emulator reports, by id. The emulator (as on main) reports every subscription
    `enabled`; the service reports `onProbation` after a failed delivery and `disabledBySystem` after about
    36 h of them (Microsoft's service-hooks troubleshooting doc; SubscriptionStatus in azure-devops-extension-api),
    so the state is set on the in-process emulator's subscription as the service would report it."""
    from adoscale_lab.emulator.hooks import Subscription

    states: dict[str, str] = {}
    original = Subscription.to_json
    monkeypatch.setattr(Subscription, "to_json", lambda self: {**original(self), **_status(states, self.id)})
    return states


def _status(states: dict[str, str], subscription_id: str) -> dict[str, str]:
    return {"status": states[subscription_id]} if subscription_id in states else {}


def test_list_shows_each_state_and_install_repairs_those_on_probation_or_disabled(
    config_file: Path, org_url: str, statuses: dict[str, str]
) -> None:
    url = "http://127.0.0.1:9/hooks"
    assert run("install", "-c", str(config_file), "--url", url)[0] == 0
    code, out = run("list", "-c", str(config_file), "--json")
    by_pool = {s["pool"]: s for s in json.loads(out)}
    assert {p: (s["status"], s["healthy"]) for p, s in by_pool.items()} == {
        "linux": ("enabled", True),
        "gpu": ("enabled", True),
    }
    statuses[by_pool["linux"]["id"]] = "onProbation"
    statuses[by_pool["gpu"]["id"]] = "disabledBySystem"
    code, out = run("list", "-c", str(config_file))
    assert code == 0 and "onProbation" in out and "disabledBySystem" in out and "events lost" in out, out

    code, out = run("install", "-c", str(config_file), "--url", url)
    assert code == 0 and out.count("repaired") == 2 and "already subscribed" not in out, out
    listed = json.loads(run("list", "-c", str(config_file), "--json")[1])
    assert sorted((s["pool"], s["status"]) for s in listed) == [("gpu", "enabled"), ("linux", "enabled")]
    assert {s["id"] for s in listed}.isdisjoint({by_pool["linux"]["id"], by_pool["gpu"]["id"]})
    assert "already subscribed" in run("install", "-c", str(config_file), "--url", url)[1]  # healthy: kept
