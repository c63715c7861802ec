"""The control-plane module's `alert_reminder_hours` (H7): rendered by templatefile() into every place of the
workflow that asks for an incident's reminder interval, and refused at plan time, naming the variable, when it
is not a whole number of hours from 0 (no reminder) to 720. `terraform test` with the mocked AWS provider of
metrics.tftest.hcl (its `mock_provider` and `variables` blocks, reused), and a real `terraform plan` for the
message a user reads. The Python side (`adoscale.workflow.render`) must agree with the module's default and
bounds, so that the workflow tests run what Terraform deploys."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from adoscale.workflow import ALERT_REMINDER_HOURS, MAX_ALERT_REMINDER_HOURS, render
from tests.deploy.deploying import init_offline
from tests.deploy.terraform import TERRAFORM_DIR, cli_env, run

MODULE = TERRAFORM_DIR / "modules" / "control-plane"
MOCKS = Path(__file__).with_name("metrics.tftest.hcl")
MESSAGE = "alert_reminder_hours must be a whole number of hours from 1 to 720 (30 days), or 0 for no reminder."
# Where the rendered definition carries the interval: each Task that records an incident's failure.
STATES = "jsondecode(aws_sfn_state_machine.this.definition).States.Rounds.Iterator.States"
RECORDS = [
    f"{STATES}.{path}.Parameters.Payload.remind_after_hours"
    for path in (
        "RecordRoundFailure",
        "EachPool.Iterator.States.RecordFailure",
        "EachPool.Iterator.States.RecordWaitFailure",
    )
]


def _every(hours: int) -> str:
    return " && ".join(f"{record} == {hours}" for record in RECORDS)


def _setup() -> str:
    """metrics.tftest.hcl's mocked provider and variables, without its runs."""
    text = MOCKS.read_text()
    head = text[: text.index('\nrun "')]
    return head.replace('"ZIP"', '"ZIP_PATH"')


def _runs() -> str:
    accepted = "\n".join(
        f"""run "remind_every_{hours}" {{
  variables {{
    alert_reminder_hours = {hours}
  }}
  assert {{
    condition     = {_every(hours)}
    error_message = "alert_reminder_hours = {hours} is not what the workflow renders"
  }}
}}
"""
        for hours in (1, 6, 0, MAX_ALERT_REMINDER_HOURS)
    )
    refused = "\n".join(
        f"""run "refuse_{name}" {{
  command = plan
  variables {{
    alert_reminder_hours = {value}
  }}
  expect_failures = [var.alert_reminder_hours]
}}
"""
        for name, value in (("negative", -1), ("fraction", 1.5), ("above_30_days", MAX_ALERT_REMINDER_HOURS + 1))
    )
    default = f"""run "the_default" {{
  assert {{
    condition     = {_every(ALERT_REMINDER_HOURS)}
    error_message = "the module's default is not adoscale.workflow.ALERT_REMINDER_HOURS"
  }}
}}
"""
    return default + accepted + refused


def test_the_module_renders_the_reminder_interval_and_refuses_a_bad_one(tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    shutil.copytree(MODULE.parent, modules, ignore=shutil.ignore_patterns(".terraform*"))
    zip_path = tmp_path / "adoscale.zip"
    zip_path.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: the module only hashes it
    text = _setup().replace("ZIP_PATH", str(zip_path)) + "\n" + _runs()
    root = modules / "control-plane"
    (root / "tests").mkdir()
    (root / "tests" / "alerts.tftest.hcl").write_text(text)
    env = cli_env(tmp_path)
    init = run(["init", "-backend=false", "-input=false", "-no-color"], root, env)
    assert init.returncode == 0, init.stdout + init.stderr
    done = run(["test", "-no-color"], root, env)
    runs = len(re.findall(r'^run "', text, re.MULTILINE))
    assert done.returncode == 0 and f"{runs} passed, 0 failed" in done.stdout, done.stdout + done.stderr


@pytest.fixture(scope="module")
def planned_module(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("control-plane") / "modules"
    shutil.copytree(MODULE.parent, root, ignore=shutil.ignore_patterns(".terraform*"))
    module = root / "control-plane"
    env = init_offline(module)
    return module, env


REQUIRED = {
    "lambda_zip_path": "/nonexistent/adoscale.zip",
    "azp_url": "https://dev.azure.com/acme",
    "config_json": "{}",
    "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/ado",
    "task_definition_family": "ado-agent",
    "pass_role_arns": '["arn:aws:iam::123456789012:role/task"]',
}


# Each condition of the validation once, and 0 (no reminder) as the control that a valid value is not refused:
# the mocked `terraform test` above covers the other valid values without a plan each.
@pytest.mark.parametrize(("value", "refused"), [("1.5", True), ("-2", True), ("721", True), ("0", False)])
def test_terraform_plan_names_the_variable_when_the_value_is_wrong(
    planned_module: tuple[Path, dict[str, str]], value: str, refused: bool
) -> None:
    module, env = planned_module
    variables = [a for k, v in {**REQUIRED, "alert_reminder_hours": value}.items() for a in ("-var", f"{k}={v}")]
    done = run(["plan", "-input=false", "-no-color", "-refresh=false", *variables], module, env, timeout=180)
    out = " ".join((done.stdout + done.stderr).split())  # Terraform wraps its messages
    assert done.returncode != 0  # valid values too end at the missing zip or the closed port
    assert (MESSAGE in out) is refused, out[-3000:]


def test_python_renders_what_the_module_defaults_to_and_refuses() -> None:
    variables = (MODULE / "variables.tf").read_text()
    block = re.search(r'variable "alert_reminder_hours" \{(.*?)\n\}', variables, re.S)
    assert block is not None
    assert re.search(r"default\s*=\s*(\d+)", block.group(1)).group(1) == str(ALERT_REMINDER_HOURS)  # type: ignore[union-attr]
    assert f"var.alert_reminder_hours <= {MAX_ALERT_REMINDER_HOURS}" in block.group(1)
    assert MESSAGE in block.group(1)
    with pytest.raises(ValueError, match=re.escape(MESSAGE)):
        render(
            {"pass_arn": "a", "waiter_arn": "w", "alert_topic_arn": "t"},
            alert_reminder_hours=MAX_ALERT_REMINDER_HOURS + 1,
        )
