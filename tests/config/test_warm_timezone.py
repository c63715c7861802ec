"""`pools[].warm_pool.timezone` (issue 25): the IANA zone whose days the predictive forecast compares, UTC
unless set, checked when the configuration is read; a schedule without its own `timezone` takes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.config import ConfigError, load_config, parse_config
from adoscale.control.decide import warm_policy_for
from adoscale.scaling.warm import WarmPolicy
from tests.config.test_config import GOOD

SCHEDULES = (
    "[{cron: '0 8 * * 1-5', duration_minutes: 60, agents: 1},"
    " {cron: '0 9 * * *', duration_minutes: 30, agents: 2, timezone: Asia/Tokyo}]"
)


@pytest.fixture(autouse=True)
def _commands() -> None:
    register()


def _policy(warm: str) -> WarmPolicy:
    return warm_policy_for(parse_config(f"{GOOD}    warm_pool: {warm}\n", "c.yaml").pools[0])


def test_the_zone_reaches_the_forecast_and_defaults_to_utc() -> None:
    assert _policy("{mode: predictive, timezone: Australia/Sydney}").timezone == "Australia/Sydney"
    assert _policy("{mode: predictive}").timezone == "UTC"
    assert warm_policy_for(parse_config(GOOD, "c.yaml").pools[0]).timezone == "UTC"


def test_a_schedule_without_its_own_zone_takes_the_warm_pool_s() -> None:
    zoned = _policy(f"{{mode: schedule, timezone: Europe/Berlin, schedules: {SCHEDULES}}}")
    assert [s.timezone for s in zoned.schedules] == ["Europe/Berlin", "Asia/Tokyo"]
    # No zone for the pool: a schedule without one reads UTC, as every schedule did before the pool's zone.
    plain = _policy(f"{{mode: schedule, schedules: {SCHEDULES}}}")
    assert [s.timezone for s in plain.schedules] == ["UTC", "Asia/Tokyo"]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("Mars/Olympus_Mons", "unknown time zone"),
        ("europe/berlin", "unknown time zone"),  # the names are case-sensitive files on Linux
        ("localtime", "unknown time zone"),  # the machine's own zone, not a name
        ("../etc/passwd", "unknown time zone"),
        ("''", "at least 1 character"),
        ("5", "valid string"),
    ],
)
def test_an_unknown_zone_is_named_with_the_file_the_pool_and_the_field(tmp_path: Path, bad: str, expected: str) -> None:
    path = tmp_path / "zone.yaml"
    path.write_text(f"{GOOD}    warm_pool: {{mode: predictive, timezone: {bad}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and "linux-fargate" in message and "warm_pool.timezone" in message, message
    assert expected in message
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2 and "warm_pool.timezone" in result.output and "Traceback" not in result.output


def test_a_schedule_s_unknown_zone_is_still_named() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml.*linux-fargate.*schedules.*timezone.*unknown time zone"):
        parse_config(
            f"{GOOD}    warm_pool: {{mode: schedule, schedules: [{{cron: '0 8 * * *', duration_minutes: 60, "
            "agents: 1, timezone: Mars/Base}]}\n",
            "c.yaml",
        )
