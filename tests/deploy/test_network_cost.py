"""The network's monthly cost per mode: `adoscale cost` includes it, and the figures quoted in
docs/deploy.md and the network module's README are the cost model's own at the seed's load."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from adoscale_lab.sim.cost import DAYS_PER_MONTH, HOURS_PER_MONTH, Usage, load_prices, monthly_costs
from tests.conftest import REPO

DOCS = (REPO / "docs" / "deploy.md").read_text()
README = (REPO / "deploy" / "terraform" / "modules" / "network" / "README.md").read_text()


def network_usd(mode: str) -> float:
    lines = monthly_costs(replace(Usage(), network_mode=mode), load_prices())
    return sum(line.monthly_usd for line in lines if line.service.startswith("VPC"))


@pytest.mark.parametrize("mode", ["nat", "public", "endpoints"])
def test_the_documented_figures_are_the_models(mode: str) -> None:
    figure = f"${network_usd(mode):,.2f}"
    assert figure in DOCS, f"docs/deploy.md does not quote {figure} for {mode}"
    assert figure in README, f"the network README does not quote {figure} for {mode}"


def test_fixed_charges_and_ordering() -> None:
    prices = load_prices()
    nat_fixed = HOURS_PER_MONTH * (prices["vpc"]["nat_gateway_hour"] + prices["vpc"]["public_ipv4_hour"])
    assert f"${nat_fixed:,.2f}" in DOCS
    assert network_usd("public") < network_usd("nat") < network_usd("endpoints")
    assert network_usd("none") == 0
    # At the seed's load a NAT gateway costs more than all the rest of adoscale together.
    rest = sum(line.monthly_usd for line in monthly_costs(replace(Usage(), network_mode="none"), prices))
    assert network_usd("nat") > rest


def test_image_layers_bypass_the_nat_gateway() -> None:
    """The network module gives nat mode an S3 gateway endpoint: ECR's layers (from S3) cost nothing there,
    so the NAT gateway processes only the rest of a job's data."""
    prices = load_prices()
    without_endpoint = network_usd_for(replace(Usage(), network_mode="nat", image_gb_per_job=0.0))
    layers_gb = Usage().jobs_per_day * DAYS_PER_MONTH * Usage().image_gb_per_job
    assert without_endpoint - network_usd("nat") == pytest.approx(layers_gb * prices["vpc"]["nat_gateway_gb"])
    assert f"${without_endpoint:,.2f}" in DOCS  # what the endpoint saves is quoted


def network_usd_for(usage: Usage) -> float:
    return sum(line.monthly_usd for line in monthly_costs(usage, load_prices()) if line.service.startswith("VPC"))


def test_an_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="network_mode must be one of"):
        monthly_costs(replace(Usage(), network_mode="vpn"), load_prices())


def test_adoscale_cost_prints_the_network_line() -> None:
    from adoscale.cli import app
    from adoscale.cli.commands import register

    register()
    body = json.loads(CliRunner().invoke(app, ["cost", "--json"]).stdout)
    services = {line["service"]: line["monthly_usd"] for line in body["lines"]}
    assert services["VPC: NAT gateway"] == pytest.approx(network_usd("nat"))


def test_adoscale_cost_prices_the_network_asked_for() -> None:
    from adoscale.cli import app
    from adoscale.cli.commands import register

    register()
    for mode, line in (("public", "VPC: public IPv4"), ("endpoints", "VPC: interface endpoints")):
        # Each mode's own line is there, and the NAT gateway is not.
        result = CliRunner().invoke(app, ["cost", "--json", "--network", mode])
        assert result.exit_code == 0, result.output
        services = {row["service"]: row["monthly_usd"] for row in json.loads(result.stdout)["lines"]}
        assert line in services and "VPC: NAT gateway" not in services
        assert sum(v for k, v in services.items() if k.startswith("VPC")) == pytest.approx(network_usd(mode))
    none = json.loads(CliRunner().invoke(app, ["cost", "--json", "--network", "none"]).stdout)
    assert not any(row["service"].startswith("VPC") for row in none["lines"])
    wrong = CliRunner().invoke(app, ["cost", "--network", "vpn"])
    assert wrong.exit_code == 2 and "--network" in wrong.output and "Traceback" not in wrong.output
