"""The Step Functions workflow (ASL JSON): the cadence, the wait for launched tasks, and alerts — nothing
else. Each round reads the parallel-job limit once (the pass function's `round` action), then a Map runs
one pass per pool (`pass` action: lease, observe, decide, act). Retry lists only the transient errors of
`adoscale.transient` and re-runs the whole pass, which observes again; a pool's failure alerts naming the
pool and does not stop the others.

The definition carries `${name}` placeholders for the function ARNs and the alert topic; Terraform renders
it with `templatefile()`, and `render()` does the same in Python.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The definition lives with the Terraform module that deploys it (a module needs nothing outside its folder);
# only the tests read it from Python, in a source checkout.
ASL = Path(__file__).resolve().parents[3] / "deploy" / "terraform" / "modules" / "control-plane" / "workflow.asl.json"

PLACEHOLDERS = ("pass_arn", "waiter_arn", "alert_topic_arn")

# The execution input the schedule sends: up to 4 rounds 15 s apart per 1-minute execution (fewer when a
# round waited for launched tasks: the pass function ends the loop when another round would not fit).
DEFAULT_INPUT = {"rounds": 4, "cadence_s": 15, "task_wait_s": 10}


def template() -> str:
    return ASL.read_text()


def render(values: Mapping[str, str]) -> str:
    missing = [name for name in PLACEHOLDERS if name not in values]
    if missing:
        raise KeyError(f"workflow placeholders without a value: {', '.join(missing)}")
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template())


def definition(values: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(values))
    return data
