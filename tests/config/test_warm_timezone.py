"""`pools[].warm_pool.timezone` (issue 25): the IANA zone whose days the predictive forecast compares, UTC
unless set, checked when the configuration is read; a schedule without its own `timezone` takes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.config import ConfigError, load_config, parse_config
from adoscale.control.decide import decide, warm_policy_for
from adoscale.control.observe import Observation
from adoscale.history import HistoryRecord
from adoscale.scaling import AgentView, PoolSnapshot
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


def test_the_idle_budget_s_day_starts_at_the_pool_s_own_midnight() -> None:
    """A Sydney pool (UTC+11 in November) with an agent-hour of idle a day, spent by 23:30 local time on
    Monday (12:30 UTC): nothing is kept warm. At 00:30 local on Tuesday (13:30 UTC, still Monday in UTC) its
    day is a new one, and the schedule's two agents are kept again; counted in UTC, the budget stayed spent
    until 11:00 local time."""
    pool = parse_config(
        f"{GOOD}    warm_pool: {{mode: schedule, timezone: Australia/Sydney, budget_agent_hours_per_day: 1,"
        " schedules: [{cron: '* * * * *', duration_minutes: 1, agents: 2}]}\n",
        "c.yaml",
    ).pools[0]
    monday_2330 = datetime(2026, 11, 16, 23, 30, tzinfo=ZoneInfo("Australia/Sydney")).astimezone(UTC)
    one_idle = (AgentView(1, "linux-fargate-1", True, True, False, monday_2330 - timedelta(hours=2)),)

    def warm_at(now: datetime, history: HistoryRecord) -> tuple[int, HistoryRecord]:
        snapshot = PoolSnapshot(pool.name, now, 0, 0, one_idle, ())
        decision = decide(pool, Observation(pool.name, 1, snapshot, (), (), history=history))
        assert decision.warm is not None and decision.history is not None
        return decision.warm.agents, decision.history

    spent = HistoryRecord(idle_day="2026-11-16", idle_seconds=3600.0, last_pass=monday_2330 - timedelta(minutes=1))
    agents, kept = warm_at(monday_2330, spent)
    assert agents == 0 and kept.idle_day == "2026-11-16" and kept.idle_seconds == 3660.0
    agents, kept = warm_at(monday_2330 + timedelta(hours=1), kept)
    # The hour since the last pass counts five minutes at most, to the new day.
    assert agents == 2 and kept.idle_day == "2026-11-17" and kept.idle_seconds == 300.0
