"""The control plane's dashboard and alarms (issue 24) reference only metrics that are published: the names
the pass Lambda emits (`adoscale.metrics.METRICS`, checked against its EMF output in
tests/integration/test_pass_metrics.py) and Step Functions' own `AWS/States` metrics. Checked on the module's
source, and on what `terraform apply` of examples/complete created in moto: the dashboard's body and every
alarm, each alarming to the deployment's alert topic."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from adoscale.metrics import METRICS, NAMES, PUBLISHED
from adoscale_lab.alarms import pass_errors_alarm
from tests.deploy.terraform import TERRAFORM_DIR, cli_env, run

MODULE = TERRAFORM_DIR / "modules" / "control-plane"
# Step Functions' metrics for Express workflows (docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html)
STATES = {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"}


def _metric_local() -> dict[str, str]:
    source = (MODULE / "observability.tf").read_text()
    block = re.search(r"\n  metric = \{\n(.*?)\n  \}", source, re.DOTALL)
    assert block, "observability.tf: the `metric` local is where every adoscale metric name is"
    return dict(re.findall(r"(\w+)\s*=\s*(\"\w+\"|var\.metric_name)", block.group(1)))


def test_the_module_names_only_published_metrics() -> None:
    names = {value.strip('"') for value in _metric_local().values() if value != "var.metric_name"}
    assert names <= NAMES, names - NAMES
    assert _metric_local()["queued"] == "var.metric_name"  # the deployment's (renamable) queued-jobs name
    default = re.search(
        r'variable "metric_name" \{.*?default\s*=\s*"(\w+)"', (MODULE / "variables.tf").read_text(), re.S
    )
    assert default and default.group(1) in NAMES
    source = (MODULE / "observability.tf").read_text()
    # Nowhere else a literal adoscale metric name: every reference goes through local.metric.
    assert not re.search(r'metric_name\s*=\s*"', source)
    assert not re.search(r'\[var\.metrics_namespace,\s*"', source)


def test_the_per_event_metrics_are_drawn_as_percentiles() -> None:
    """Issue 24 item 3: each job's wait and each agent's start-up, per pool, at p50 and p95. Every value of a
    per-event metric is a data point (EMF), so CloudWatch's percentile statistics apply to them."""
    each = {m.name for m in METRICS if m.each}
    drawn = {value.strip('"') for value in _metric_local().values()}
    assert each <= drawn, each - drawn
    source = (MODULE / "observability.tf").read_text()
    assert re.search(r'percentiles\s*=\s*\["p50", "p95"\]', source)
    for role in ("job_wait", "startup"):
        assert re.search(rf"for stat in local\.percentiles : \[var\.metrics_namespace, local\.metric\.{role},", source)


def test_the_lambdas_publish_the_set_the_module_alarms_on() -> None:
    """The module's `metrics` reaches the functions as ADOSCALE_METRICS (which the pass Lambda reads:
    tests/integration/test_pass_metrics.py), and its `essential` roles are adoscale's essential set."""
    assert re.search(r"\n\s*ADOSCALE_METRICS\s*=\s*var\.metrics\n", (MODULE / "lambda.tf").read_text())
    source = (MODULE / "observability.tf").read_text()
    roles = re.search(r"essential_roles\s*=\s*\[([^\]]*)\]", source)
    assert roles, "observability.tf: essential_roles lists the roles `essential` publishes"
    metric = _metric_local()
    names = {metric[role.strip().strip('"')].strip('"') for role in roles.group(1).split(",")}
    assert names == (PUBLISHED["essential"] - {"QueuedJobs"}) | {"var.metric_name"}
    sets = re.search(
        r'variable "metrics" \{.*?contains\(\[([^\]]*)\], var\.metrics\)', (MODULE / "variables.tf").read_text(), re.S
    )
    assert sets and {v.strip().strip('"') for v in sets.group(1).split(",")} == set(PUBLISHED)


# `terraform test` with a mocked AWS provider (Terraform >= 1.7): the module planned and "applied" against
# mocks in seconds, offline; what it would create is asserted in HCL (metrics.tftest.hcl, beside this file, not
# shipped in the module, whose users may run Terraform 1.5). The expected names come from adoscale.metrics.
TFTEST = Path(__file__).with_name("metrics.tftest.hcl")  # ZIP, FULL, ESSENTIAL and EXPECT filled in below


def _expect(match: re.Match[str]) -> str:
    """The assertions on each pool's pass-errors alarm for windows of `window` minutes and the module's
    alarm_pass_error_minutes, from adoscale_lab.alarms.pass_errors_alarm (whose bounds
    tests/deploy/test_pass_errors_alarm.py checks)."""
    indent, window, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    alarm = pass_errors_alarm(window, minutes)
    percentile = alarm.statistic.startswith("p")
    fields = {
        "period": str(alarm.period_minutes * 60),
        "evaluation_periods": str(alarm.evaluation_periods),
        "datapoints_to_alarm": str(alarm.datapoints_to_alarm),
        "threshold": "0",
        "comparison_operator": '"GreaterThanThreshold"',
        "treat_missing_data": f'"{alarm.treat_missing_data}"',
        "statistic": "null" if percentile else f'"{alarm.statistic}"',
        "extended_statistic": f'"{alarm.statistic}"' if percentile else "null",
    }
    if percentile:  # otherwise unset, which the mocked provider fills with anything (the attribute is computed)
        fields["evaluate_low_sample_count_percentiles"] = f'"{alarm.evaluate_low_sample_count_percentiles}"'
    blocks = []
    for pool in ("linux", "windows"):
        for field, value in fields.items():
            shown = value.strip('"')
            blocks += [
                f"{indent}assert {{",
                f'{indent}  condition     = aws_cloudwatch_metric_alarm.pass_errors["{pool}"].{field} == {value}',
                f'{indent}  error_message = "pass-errors alarm of {pool}: {field} is not {shown}"',
                f"{indent}}}",
            ]
    return "\n".join(blocks)


def test_the_module_alarms_on_and_draws_only_the_published_metrics(tmp_path: Path) -> None:
    """Issue 25 item 3: with `metrics = "essential"` the module creates no alarm and draws no widget on a metric
    the functions do not publish (an alarm on one would never fire: observability.tf says why); with `full`,
    everything as before. `create_dashboard = false` leaves the dashboard out. And the pass-errors alarm for
    each cadence (H3): one-minute windows without the back-off (5 of them, a failing pass in each, as
    before), windows of idle_observe_minutes with it (p50 of the window's passes, evaluated on an idle pool's
    one sample), of the schedule's interval without hooks; the back-off refused with a tick slower than a
    minute."""
    modules = tmp_path / "modules"
    shutil.copytree(MODULE.parent, modules)
    zip_path = tmp_path / "adoscale.zip"
    zip_path.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: the module only hashes it
    used = {value.strip('"') for value in _metric_local().values()} - {"var.metric_name"}
    full = sorted(used | {"queue_depth"})
    essential = sorted((PUBLISHED["essential"] - {"QueuedJobs"}) | {"queue_depth"})
    text = TFTEST.read_text().replace("ZIP", str(zip_path)).replace("FULL", json.dumps(full))
    text = re.sub(r"^( *)# EXPECT (\d+) (\d+)$", _expect, text, flags=re.MULTILINE)
    runs = len(re.findall(r'^run "', text, re.MULTILINE))
    (modules / "control-plane" / "tests").mkdir()
    (modules / "control-plane" / "tests" / "metrics.tftest.hcl").write_text(
        text.replace("ESSENTIAL", json.dumps(essential))
    )
    env = cli_env(tmp_path)
    root = modules / "control-plane"
    init = run(["init", "-backend=false", "-input=false", "-no-color"], root, env)
    assert init.returncode == 0, init.stdout + init.stderr
    done = run(["test", "-no-color"], root, env)
    assert done.returncode == 0 and f"{runs} passed, 0 failed" in done.stdout, done.stdout + done.stderr


def _dashboard_metrics(body: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            found.add((row[0], row[1]))
    return found


@pytest.mark.slow
def assert_dashboard_and_alarms(endpoint: str, outputs: dict[str, str]) -> None:
    """After an apply of the complete example into moto (tests/deploy/test_apply.py, which calls this, so that
    the dashboard and alarms are checked on the one apply the suite pays for): the dashboard and each pool's
    alarms exist, alarm to the alert topic, and use only metrics the code publishes."""
    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1")
    [entry] = cloudwatch.list_dashboards()["DashboardEntries"]
    assert entry["DashboardName"] == "adoscale"  # the module's var.name (output dashboard_name)
    body = json.loads(cloudwatch.get_dashboard(DashboardName="adoscale")["DashboardBody"])
    used = _dashboard_metrics(body)
    assert {name for namespace, name in used if namespace == "adoscale"} <= NAMES
    assert {name for namespace, name in used if namespace == "AWS/States"} <= STATES
    assert {namespace for namespace, _ in used} == {"adoscale", "AWS/States"}
    # Each job's wait and each agent's start-up at p50 and p95, per pool (the example's one pool).
    percentiles = {
        (row[1], row[3], row[-1].get("stat"))
        for widget in body["widgets"]
        for row in widget["properties"].get("metrics", [])
        if row[0] == "adoscale" and isinstance(row[-1], dict)
    }
    for name in ("JobWaitSeconds", "AgentStartupSeconds"):
        assert {(name, "linux-fargate", "p50"), (name, "linux-fargate", "p95")} <= percentiles, percentiles
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="adoscale-linux-fargate-")["MetricAlarms"]
    by_kind = {a["AlarmName"].removeprefix("adoscale-linux-fargate-"): a for a in alarms}
    assert set(by_kind) == {"job-waiting", "launch-failures", "pass-errors"}
    for alarm in alarms:
        assert alarm["AlarmActions"] == [outputs["alert_topic_arn"]]
        names = {alarm.get("MetricName")} | {
            q["MetricStat"]["Metric"]["MetricName"] for q in alarm.get("Metrics", []) if "MetricStat" in q
        }
        assert names - {None} <= NAMES, alarm["AlarmName"]
    waiting = {q["Id"]: q for q in by_kind["job-waiting"]["Metrics"]}
    assert "oldest > 600" in waiting["waiting"]["Expression"]
    # The apply has hooks on, so the back-off's default cadence: the pass-errors alarm in 10-minute windows.
    expected = pass_errors_alarm(10, 5)
    errors = by_kind["pass-errors"]
    assert (errors["MetricName"], errors["Dimensions"]) == ("PassErrors", [{"Name": "Pool", "Value": "linux-fargate"}])
    assert (errors["Period"], errors["EvaluationPeriods"], errors["DatapointsToAlarm"]) == (
        expected.period_minutes * 60,
        expected.evaluation_periods,
        expected.datapoints_to_alarm,
    )
    assert (errors.get("Statistic"), errors["ExtendedStatistic"], errors["EvaluateLowSampleCountPercentile"]) == (
        None,
        expected.statistic,
        expected.evaluate_low_sample_count_percentiles,
    )
    assert (errors["Threshold"], errors["TreatMissingData"]) == (expected.threshold, expected.treat_missing_data)
