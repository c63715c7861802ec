"""ECS's documented request rules, which moto enforces none of, checked on every call moto answers.

`violations(operation, params)` is the rule book; `EcsRules.install` wraps moto's ECS request handlers so
that each RunTask, StartTask, ListTasks and TagResource is recorded with its violations and, like ECS,
refused with `InvalidParameterException` when it breaks one. The tests' conftest installs it for every test,
and the demo for its run, so any code path that reaches moto's ECS is held to the rules. Also here: RunTask's
`clientToken` idempotency and tasks that stay RUNNING until stopped, which moto does not model either.

Sources (Amazon ECS API Reference, docs.aws.amazon.com/AmazonECS/latest/APIReference/):
- API_RunTask.html (and API_StartTask.html) `startedBy`: "Up to 36 letters (uppercase and lowercase),
  numbers, hyphens (-), forward slash (/), and underscores (_) are allowed." `count`: "You can specify up
  to 10 tasks for each call." `clientToken`: "Up to 64 ASCII characters are allowed." `overrides`: "A total
  of 8192 characters are allowed for overrides. This limit includes the JSON formatting characters of the
  override structure."
- API_ListTasks.html `startedBy`: "When you specify startedBy as the filter, it must be the only filter
  that you use." `desiredStatus`: "The default status filter is RUNNING". `cluster` names where to list
  (the ECS CLI's `compose ps` sends it with `startedBy`), so it is not counted as a filter.
- API_RunTask.html `clientToken`: "An identifier that you provide to ensure the idempotency of the request.
  It must be unique and is case sensitive." A repeated token answers the first call's result.
- Task lifecycle (developerguide/task-lifecycle-explanation.html): a task stays RUNNING until its essential
  container exits or it is stopped; moto advances it a step on every DescribeTasks.
- API_Task.html `createdAt`: "The Unix timestamp for the time when the task was created. More specifically,
  it's for the time when the task entered the PENDING state." moto 5.2 omits it (`created_at`).
- API_Tag.html: key 1-128 and value 0-256 characters, pattern `^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`; "Do not
  use aws:, AWS:, or any upper or lowercase combination of such as a prefix for either keys or values".
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from adoscale_lab.moto_rules.patches import Patcher

STARTED_BY = re.compile(r"[A-Za-z0-9_/-]{1,36}")
TAG_SPECIALS = frozenset("_.:/=+-@")
LIST_TASKS_FILTERS = ("containerInstance", "family", "serviceName", "desiredStatus", "launchType")
OVERRIDES_MAX = 8192
RUN_TASK_MAX = 10
CLIENT_TOKEN_MAX = 64


def tag_text_ok(text: str) -> bool:
    """The Tag pattern `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`: letters, separators (spaces), numbers, and the specials."""
    return all(ch in TAG_SPECIALS or unicodedata.category(ch)[0] in "LZN" for ch in text)


def started_by_violations(value: Any) -> list[str]:
    if not isinstance(value, str) or not STARTED_BY.fullmatch(value):
        return [f"startedBy {value!r}: up to 36 letters, numbers, '-', '/' and '_' only"]
    return []


def tag_violations(tags: Any) -> list[str]:
    problems: list[str] = []
    for tag in tags or []:
        key, value = tag.get("key", ""), tag.get("value", "")
        if not 1 <= len(key) <= 128 or not tag_text_ok(key):
            problems.append(f"tag key {key!r}: 1-128 letters, numbers, spaces and + - = . _ : / @")
        if len(value) > 256 or not tag_text_ok(value):
            problems.append(
                f"tag value {value!r} (key {key!r}): up to 256 letters, numbers, spaces and + - = . _ : / @"
            )
        for part in (key, value):
            if part.lower().startswith("aws:"):
                problems.append(f"tag {key!r}: the prefix aws: is reserved")
    return problems


def overrides_chars(overrides: Any) -> int:
    """Measured as botocore serialises it (json.dumps defaults: `, ` and `: `, non-ASCII escaped): at least
    as long as any compact or unescaped count ECS might make of the same structure."""
    return len(json.dumps(overrides))


def overrides_violations(overrides: Any) -> list[str]:
    if overrides is None:
        return []
    size = overrides_chars(overrides)
    if size > OVERRIDES_MAX:
        return [f"overrides: {size} characters of JSON, over {OVERRIDES_MAX}"]
    return []


def violations(operation: str, params: dict[str, Any]) -> list[str]:
    """What ECS would refuse in this request, by its API reference (see the module's sources)."""
    problems: list[str] = []
    if operation in ("RunTask", "StartTask"):
        if "startedBy" in params:
            problems += started_by_violations(params["startedBy"])
        problems += tag_violations(params.get("tags"))
        problems += overrides_violations(params.get("overrides"))
        if operation == "RunTask":
            if int(params.get("count", 1)) > RUN_TASK_MAX:
                problems.append(f"count {params.get('count')}: at most {RUN_TASK_MAX} tasks per call")
            token = params.get("clientToken")
            if token is not None and (len(token) > CLIENT_TOKEN_MAX or not token.isascii()):
                problems.append(f"clientToken: up to {CLIENT_TOKEN_MAX} ASCII characters")
    elif operation == "ListTasks":
        if "startedBy" in params:
            problems += started_by_violations(params["startedBy"])
            others = [name for name in LIST_TASKS_FILTERS if params.get(name) is not None]
            if others:
                problems.append(f"ListTasks: startedBy must be the only filter, got also {', '.join(others)}")
    elif operation == "TagResource":
        problems += tag_violations(params.get("tags"))
    return problems


@dataclass
class EcsRules:
    """Every checked ECS request moto answered in this test: (operation, parameters, violations)."""

    calls: list[tuple[str, dict[str, Any], list[str]]] = field(default_factory=list)
    enforce: bool = True

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params, _ in self.calls if op == operation]

    @property
    def broken(self) -> list[tuple[str, list[str]]]:
        return [(op, problems) for op, _, problems in self.calls if problems]

    @classmethod
    def install(cls, monkeypatch: Patcher, *, enforce: bool = True) -> EcsRules:
        from moto.ecs.exceptions import InvalidParameterException
        from moto.ecs.models import EC2ContainerServiceBackend
        from moto.ecs.responses import EC2ContainerServiceResponse

        rules = cls(enforce=enforce)
        for operation, method in (
            ("RunTask", "run_task"),
            ("StartTask", "start_task"),
            ("ListTasks", "list_tasks"),
            ("TagResource", "tag_resource"),
        ):
            original = getattr(EC2ContainerServiceResponse, method)

            @functools.wraps(original)
            def checked(self: Any, *args: Any, _original: Any = original, _operation: str = operation) -> Any:
                params = dict(self.params)
                problems = violations(_operation, params)
                rules.calls.append((_operation, params, problems))
                if problems and rules.enforce:
                    raise InvalidParameterException("; ".join(problems))
                return _original(self, *args)

            monkeypatch.setattr(EC2ContainerServiceResponse, method, checked)

        original_list = EC2ContainerServiceBackend.list_tasks

        @functools.wraps(original_list)
        def list_tasks(self: Any, *args: Any, **kwargs: Any) -> Any:
            # ListTasks "The default status filter is RUNNING"; moto lists every status when none is given.
            # Only the API handler's call (six positional arguments, desiredStatus last) is the API: moto
            # also calls list_tasks() itself to find a task by ARN, whatever its status.
            positional = list(args)
            if len(positional) >= 6:
                positional[5] = positional[5] or "RUNNING"
            return original_list(self, *positional, **kwargs)

        monkeypatch.setattr(EC2ContainerServiceBackend, "list_tasks", list_tasks)
        return rules


def run_task_client_token(monkeypatch: Patcher) -> dict[str, Any]:
    """RunTask's `clientToken` rule: a repeated token answers the first call's result and starts nothing.
    Returns the answers by token."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    answered: dict[str, Any] = {}
    original = EC2ContainerServiceResponse.run_task

    @functools.wraps(original)
    def run_task(self: EC2ContainerServiceResponse) -> Any:
        token = self._get_param("clientToken")
        if token and token in answered:
            return answered[token]
        result = original(self)
        if token:
            answered[token] = result
        return result

    monkeypatch.setattr(EC2ContainerServiceResponse, "run_task", run_task)
    return answered


def hold_tasks_running() -> None:
    """Tasks stay RUNNING until their container exits or StopTask is called, as ECS's do (moto's default
    advances a task's status on every DescribeTasks: RUNNING, DEACTIVATING, ... STOPPED). moto's own state
    manager setting, process-wide."""
    from moto.moto_api import state_manager

    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})


def created_at(monkeypatch: Patcher) -> None:
    """Every task carries `createdAt`, the time moto created it (its server's clock), as ECS's tasks do: moto
    5.2 sends none, and a reader then has only the time it first saw the task. moto answers an attribute named
    like the API's field (`created_at`) in DescribeTasks and RunTask."""
    from moto.core.utils import utcnow
    from moto.ecs.models import Task

    original = Task.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.created_at = utcnow()

    monkeypatch.setattr(Task, "__init__", init)
