"""adoscale's configuration: one YAML (or JSON) document, validated at once, every error located.

One loader (`load_settings`) with one precedence serves the CLI and every Lambda: a file given on the
command line, else inline `ADOSCALE_CONFIG`, else the SSM SecureString named by `ADOSCALE_CONFIG_PARAMETER`.
One resolver (`resolve_pat`) finds the PAT: `AZP_TOKEN`, else the configuration's `pat_secret` or
`pat_parameter`, else the deployment's `AZP_TOKEN_SECRET_ARN`. Validating touches nothing but the text;
only reading an SSM parameter or a secret calls AWS. Secrets never live in the configuration, only where to
find them.

Nothing a user can put in the document gets past the loader as anything but a `ConfigError` naming the
source, and for a pool the pool and the field: the size is capped before parsing, bytes must be UTF-8,
keys must be unique, nesting and alias expansion are bounded, integers are integers (no `true`, no `5.0`)
within documented bounds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adoscale.secrets import register_secret

# Bounds a user can rely on (docs/configuration.md). A pool beyond a thousand tasks is beyond the Fargate
# quotas of all but a few accounts and almost certainly a typo; no timeout adoscale uses needs over a day.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_NESTING = 32
# Values in the document (each YAML node), and after aliases are expanded ("billion laughs" stops here).
# Counted while composing, so that a megabyte of `[1,1,1,...]` stops early instead of parsing for seconds.
MAX_VALUES = 20_000
MAX_AGENTS = 1000
MAX_SECONDS = 86_400
MAX_POOLS = 100

CONFIG_ENV = "ADOSCALE_CONFIG"
CONFIG_PARAMETER_ENV = "ADOSCALE_CONFIG_PARAMETER"
PAT_ENV = "AZP_TOKEN"
PAT_SECRET_ENV = "AZP_TOKEN_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
URL_ENV = "AZP_URL"

Name = Annotated[str, Field(min_length=1, max_length=255)]
AgentCount = Annotated[StrictInt, Field(ge=0, le=MAX_AGENTS)]
Seconds = Annotated[StrictInt, Field(gt=0, le=MAX_SECONDS)]

_SECRET_REF = re.compile(r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@!-]{1,512}$")
_PARAMETER_REF = re.compile(r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?/?[A-Za-z0-9_.\-/]{1,1011}$")
_TABLE_REF = re.compile(r"^(arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/)?[A-Za-z0-9_.-]{3,255}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapacityProvider(_Strict):
    capacity_provider: Literal["FARGATE", "FARGATE_SPOT"] = Field(description="FARGATE or FARGATE_SPOT.")
    weight: StrictInt = Field(1, ge=0, le=1000, description="Relative share of tasks for this provider (0-1000).")
    base: StrictInt = Field(0, ge=0, le=MAX_AGENTS, description="Tasks placed on this provider first (≤ 1000).")


class EcsSettings(_Strict):
    cluster: Name = Field(description="ECS cluster name or ARN.")
    task_definition: Name = Field(description="Agent task definition: family, family:revision or ARN.")
    container_name: Name = Field("agent", description="The agent container in the task definition.")
    subnets: list[Name] = Field(min_length=1, max_length=16, description="Subnets for the tasks (awsvpc; 1-16).")
    security_groups: list[Name] = Field(
        default_factory=list, max_length=5, description="Security groups for the tasks (at most 5)."
    )
    assign_public_ip: StrictBool = Field(False, description="Give tasks a public IP (only without a NAT gateway).")
    capacity_provider_strategy: list[CapacityProvider] = Field(
        default_factory=list,
        max_length=2,
        description="Optional; default is launch type FARGATE. When FARGATE_SPOT refuses tasks, for any "
        "reason (no capacity, a platform version or CPU architecture it does not take), they start on FARGATE "
        "and the pass reports why.",
    )
    environment: dict[Name, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict,
        max_length=100,
        description="Extra container environment (never secrets: use task definition secrets). With AZP_POOL "
        "and AZP_URL it must fit ECS's 8,192 characters of container overrides (JSON).",
    )

    @model_validator(mode="after")
    def _weights(self) -> EcsSettings:
        if self.capacity_provider_strategy and not any(p.weight > 0 for p in self.capacity_provider_strategy):
            raise ValueError("capacity_provider_strategy needs at least one provider with weight > 0")
        return self


class WarmScheduleConfig(_Strict):
    cron: Annotated[str, Field(min_length=9, max_length=100)] = Field(
        description="When the window opens: minute hour day-of-month month day-of-week (0 = Sunday)."
    )
    duration_minutes: StrictInt = Field(description="How long the window stays open (1-1440).", ge=1, le=1440)
    agents: AgentCount = Field(description="Warm agents while it is open.")
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = Field("UTC", description="IANA time zone.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from adoscale.scaling.warm import parse_cron

        parse_cron(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true/false")  # noqa: TRY004 - pydantic reports ValueError
    return value


Number = Annotated[float, BeforeValidator(_no_bool)]


class WarmPoolConfig(_Strict):
    mode: Literal["off", "schedule", "predictive"] = Field("off", description="off, schedule or predictive.")
    max_agents: AgentCount = Field(2, description="Most warm (idle, ready) agents.")
    budget_agent_hours_per_day: Number | None = Field(
        None, ge=0, le=24 * MAX_AGENTS, description="Idle warm agent-hours allowed per day (UTC); none: no budget."
    )
    schedules: list[WarmScheduleConfig] = Field(
        default_factory=list, max_length=50, description="Windows with a fixed warm size (mode schedule)."
    )
    quantile: Number = Field(0.8, gt=0, lt=1, description="Predictive: cover this share of likely arrivals.")
    window_seconds: Seconds = Field(600, description="Predictive: the recent window the arrival rate comes from.")
    seasonal_days: StrictInt = Field(7, ge=0, le=28, description="Predictive: same time of day on this many days.")
    horizon_seconds: Seconds = Field(90, description="Predictive: a cold start plus the time to notice a job.")
    drain_after_seconds: Seconds = Field(
        60, description="Idle agents beyond the warm size drain after this (if sooner than idle_timeout_seconds)."
    )


class PoolConfig(_Strict):
    name: Name = Field(description="The Azure DevOps agent pool.")
    min_agents: AgentCount = Field(0, description="Agents (busy, idle or starting) always kept (≤ 1000).")
    max_agents: StrictInt = Field(10, ge=1, le=MAX_AGENTS, description="Most tasks at once (1-1000).")
    standby_agents: AgentCount = Field(0, description="Idle agents kept ready for the next job (≤ max_agents).")
    idle_timeout_seconds: Seconds = Field(
        300, description="An idle agent above min/standby is drained after this (≤ 86400)."
    )
    startup_timeout_seconds: Seconds = Field(
        600, description="A task whose agent has not come online by then is stopped (≤ 86400)."
    )
    capabilities: dict[Name, Annotated[str, Field(max_length=1024)]] | None = Field(
        None,
        max_length=500,
        description="What these agents offer, for demand matching (a map, or a list of names). "
        "Omitted: every queued job counts.",
    )
    agent_name_prefix: Annotated[str, Field(max_length=64)] = Field(
        "", description="Must match AZP_AGENT_NAME_PREFIX in the task definition."
    )
    placeholder_name: Name = Field(
        "adoscale-placeholder", description="The placeholder agent's name (after the prefix); never deleted."
    )
    ecs: EcsSettings = Field(description="Where the agents run.")
    warm_pool: WarmPoolConfig = Field(
        default_factory=WarmPoolConfig, description="Idle agents kept ready from a schedule or from recent demand."
    )

    @field_validator("capabilities", mode="before")
    @classmethod
    def _capability_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not all(isinstance(name, str) for name in value):
                raise ValueError("a list of capabilities holds names (strings) only")
            return dict.fromkeys(value, "")
        return value

    # Field validators (not a model validator) so that the error names the field, and runs even when
    # another field of the pool is wrong.
    @field_validator("max_agents")
    @classmethod
    def _max_above_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_agents")
        if isinstance(minimum, int) and value < minimum:
            raise ValueError(f"must be ≥ min_agents ({minimum})")
        return value

    @field_validator("standby_agents")
    @classmethod
    def _standby_below_max(cls, value: int, info: ValidationInfo) -> int:
        maximum = info.data.get("max_agents")
        if isinstance(maximum, int) and value > maximum:
            raise ValueError(f"must be ≤ max_agents ({maximum})")
        return value

    def capability_map(self) -> dict[str, str] | None:
        return None if self.capabilities is None else dict(self.capabilities)


class EnvironmentConfig(_Strict):
    project: Name = Field(description="The Azure DevOps project.")
    name: Name = Field(description="The Environment whose VM resources the sweeper keeps clean.")
    grace_seconds: StrictInt = Field(
        900, ge=0, le=MAX_SECONDS, description="A resource whose instance is gone is removed after this (≤ 86400)."
    )


class HooksConfig(_Strict):
    secret_name: str | None = Field(
        None,
        description="Secrets Manager name or ARN holding the service-hook shared secret; the env var "
        "ADOSCALE_HOOK_SECRET overrides it (docs/hooks.md).",
    )
    max_age_seconds: StrictInt = Field(
        300, ge=30, le=3600, description="A hook whose event is older than this is refused (30-3600)."
    )

    @field_validator("secret_name")
    @classmethod
    def _secret_reference(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_REF.match(value):
            raise ValueError("not a Secrets Manager secret name or ARN")
        return value


class Config(_Strict):
    organization_url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2048)] = Field(
        description="https://dev.azure.com/<org>; the env var AZP_URL overrides it."
    )
    pat_secret: str | None = Field(
        None, description="Secrets Manager name or ARN holding the PAT (see the PAT's precedence above)."
    )
    pat_parameter: str | None = Field(None, description="SSM SecureString parameter (name or ARN) holding the PAT.")
    metrics_namespace: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^:]")] = Field(
        "adoscale", description="CloudWatch namespace of the per-pool metrics the Lambdas publish (EMF)."
    )
    lease_table: str | None = Field(
        None,
        description="DynamoDB table (string partition key `pool`) that makes passes single-flight per pool. "
        "Without it, concurrent controllers are not coordinated.",
    )
    pools: list[PoolConfig] = Field(
        default_factory=list, max_length=MAX_POOLS, description="Agent pools to autoscale (at most 100)."
    )
    environments: list[EnvironmentConfig] = Field(
        default_factory=list, max_length=MAX_POOLS, description="Environments whose VM resources the sweeper checks."
    )
    hooks: HooksConfig | None = Field(
        None, description="Event-driven scale-out: Azure DevOps service hooks start a pool's pass (docs/hooks.md)."
    )

    @field_validator("pat_secret")
    @classmethod
    def _secret_reference(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_REF.match(value):
            raise ValueError("not a Secrets Manager secret name or ARN")
        return value

    @field_validator("pat_parameter")
    @classmethod
    def _parameter_reference(cls, value: str | None) -> str | None:
        if value is not None and not _PARAMETER_REF.match(value):
            raise ValueError("not an SSM parameter name or ARN")
        return value

    @field_validator("lease_table")
    @classmethod
    def _table_reference(cls, value: str | None) -> str | None:
        if value is not None and not _TABLE_REF.match(value):
            raise ValueError("not a DynamoDB table name or ARN")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Config:
        if self.pat_secret and self.pat_parameter:
            raise ValueError("set at most one of pat_secret and pat_parameter")
        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for index, pool in enumerate(self.pools):
            key = pool.name.lower()
            if key in first:
                repeats.append((index, first[key]))
            else:
                first[key] = index
        if repeats:
            # A custom error type carries the indices, so that each repeat is reported at its own pool.
            raise PydanticCustomError(
                "duplicate_pool", "pool names must be unique (case-insensitive)", {"repeats": repeats}
            )
        self._overrides_fit()
        return self

    def _overrides_fit(self) -> None:
        """RunTask refuses container overrides over 8,192 characters of JSON ("This limit includes the JSON
        formatting characters of the override structure", ECS API Reference, RunTask `overrides`). Each
        pool's is measured as adoscale will send it (pool name, organization URL, extra environment),
        escaped at its longest, so a pool is refused here rather than by every launch."""
        from adoscale.compute.identity import OVERRIDES_MAX, container_overrides, overrides_size

        over: list[tuple[int, int]] = []
        for index, pool in enumerate(self.pools):
            overrides = container_overrides(
                pool.ecs.container_name, pool.name, self.organization_url, pool.ecs.environment
            )
            size = overrides_size(overrides)
            if size > OVERRIDES_MAX:
                over.append((index, size))
        if over:
            raise PydanticCustomError(
                "overrides_too_large", "container overrides over ECS's limit", {"pools": over, "limit": OVERRIDES_MAX}
            )


class ConfigError(Exception):
    """Invalid configuration; `errors` holds one located message per problem. Exit code 2."""

    exit_code = 2

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class SourceError(ConfigError):
    """A configuration parameter or a PAT source that is missing, unreadable or empty, in one line that names
    the source and never the value. `exit_code` is 3 (cannot be read), or 2 (the reference itself is wrong);
    `transient` marks AWS throttling or outages, worth trying again."""

    def __init__(self, message: str, *, exit_code: int = 3, transient: bool = False) -> None:
        super().__init__([message])
        self.exit_code = exit_code
        self.transient = transient


# -- parsing ---------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """YAML that refuses what a configuration never needs: repeated keys and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # The composer recurses once per level: bound it here, before Python's own limit is reached.
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_NESTING or self._nodes > MAX_VALUES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                problem = (
                    f"nested deeper than {MAX_NESTING} levels"
                    if self._depth > MAX_NESTING
                    else f"more than {MAX_VALUES} values"
                )
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` then an explicit key is an override, not a repeat
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: SafeLoader refuses it with its own message
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(source: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or "")
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return f"{source}: not readable as text: character #x{code:04x} at offset {exc.position}"
    if mark is not None and problem.startswith(("duplicate key", "nested deeper", "more than")):
        return f"{source}: line {mark.line + 1}: {problem}"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{source}: not valid YAML{where}: {problem or 'unparseable'}"


def _oversized(value: Any) -> bool:
    """More than MAX_VALUES values, or deeper than MAX_NESTING, once aliases are expanded (also ends cycles)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_VALUES or depth > MAX_NESTING:
            return True
        if isinstance(item, dict):
            stack.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, list | tuple | set):
            stack.extend((part, depth + 1) for part in item)
    return False


def _decode(data: str | bytes, source: str) -> str:
    if isinstance(data, str):
        size = len(data.encode("utf-8", errors="surrogatepass"))
        text = data
    else:
        size = len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                [f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"]
            ) from None
    if size > MAX_CONFIG_BYTES:
        raise ConfigError([f"{source}: {size} bytes, over the {MAX_CONFIG_BYTES}-byte limit for a configuration"])
    return text.removeprefix("\ufeff")


def _locate(source: str, raw: Any, loc: tuple[int | str, ...]) -> str:
    """`FILE: pools[1] (linux) → ecs.subnets` for a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "pools" and isinstance(loc[1], int):
        index = loc[1]
        pool_name = None
        pools = raw.get("pools") if isinstance(raw, dict) else None
        if isinstance(pools, list) and index < len(pools) and isinstance(pools[index], dict):
            name = pools[index].get("name")
            pool_name = name if isinstance(name, str) else None
        where = f"pools[{index}]" + (f" ({pool_name})" if pool_name else "")
        field = ".".join(str(part) for part in loc[2:]) or "(the pool itself)"
        return f"{source}: {where} → {field}"
    field = ".".join(str(part) for part in loc) or "(top level)"
    return f"{source}: {field}"


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (not part of adoscale's configuration; check the spelling)"
    if kind == "missing":
        return "required, missing"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if "input" in error and kind not in ("model_type",):
        shown = error["input"]
        if isinstance(shown, str) and len(shown) > 80:
            shown = shown[:77] + "..."
        if isinstance(shown, str | int | float | bool) or shown is None:
            message += f" (got {shown!r})"
    return message


def _errors(source: str, raw: Any, exc: ValidationError) -> list[str]:
    errors: list[str] = []
    for error in exc.errors():
        if error["type"] == "duplicate_pool":
            for index, first in error.get("ctx", {}).get("repeats", []):
                where = _locate(source, raw, ("pools", index, "name"))
                errors.append(f"{where}: repeats the name of pools[{first}] (pool names are unique, any case)")
            continue
        if error["type"] == "overrides_too_large":
            limit = error.get("ctx", {}).get("limit")
            for index, size in error.get("ctx", {}).get("pools", []):
                where = _locate(source, raw, ("pools", index, "ecs", "environment"))
                errors.append(
                    f"{where}: the agent container's overrides (AZP_POOL, AZP_URL and this environment) would be "
                    f"{size} characters of JSON, over ECS RunTask's limit of {limit}; shorten or move values "
                    "into the task definition"
                )
            continue
        errors.append(f"{_locate(source, raw, tuple(error['loc']))}: {_message(error)}")
    return errors


def parse_config(data: str | bytes, source: str = "<config>", env: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text (YAML, or JSON which is YAML too). Every problem is reported at once."""
    text = _decode(data, source)
    try:
        raw = yaml.load(text, Loader=_Loader) if text.strip() else None  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(source, exc)]) from None
    except RecursionError:
        raise ConfigError([f"{source}: nested too deeply"]) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # A scalar that YAML's resolver accepted but Python cannot build: a date like 2001-13-45, an
        # integer of thousands of digits.
        raise ConfigError([f"{source}: a value cannot be read: {str(exc)[:120]}"]) from None
    if raw is None:
        raise ConfigError([f"{source}: the file is empty; expected a mapping with organization_url and pools"])
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: expected a mapping at the top level, got {type(raw).__name__}"])
    if _oversized(raw):
        raise ConfigError(
            [f"{source}: too large once YAML aliases are expanded (over {MAX_VALUES} values or {MAX_NESTING} levels)"]
        )
    if env and env.get(URL_ENV):
        raw = {**raw, "organization_url": env[URL_ENV]}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_errors(source, raw, exc)) from None


def _read_file(path: Path) -> bytes:
    try:
        if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                [f"{path}: {path.stat().st_size} bytes, over the {MAX_CONFIG_BYTES}-byte limit for a configuration"]
            )
        with path.open("rb") as handle:  # read one byte past the cap: a FIFO or /dev/zero has no size
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the configuration file: {exc.strerror or exc}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{path}: over the {MAX_CONFIG_BYTES}-byte limit for a configuration"])
    return data


# -- reading from AWS ------------------------------------------------------------------------------


class SourceReader(Protocol):
    """Fetches one secret or parameter by name. The CLI reads through boto3; the Lambdas through powertools'
    parameters (cached between invocations). Errors propagate as raised; `resolve_pat` classifies them."""

    def secret(self, name: str) -> str | bytes: ...

    def parameter(self, name: str) -> str: ...


class BotoReader:
    def __init__(self, *, secrets_client: Any = None, ssm_client: Any = None) -> None:
        self._secrets = secrets_client
        self._ssm = ssm_client

    def secret(self, name: str) -> str | bytes:
        if self._secrets is None:
            self._secrets = _boto("secretsmanager")
        response = self._secrets.get_secret_value(SecretId=name)
        value = response["SecretString"] if "SecretString" in response else response["SecretBinary"]
        return value if isinstance(value, bytes) else str(value)

    def parameter(self, name: str) -> str:
        if self._ssm is None:
            self._ssm = _boto("ssm")
        return str(self._ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


_MISSING = frozenset({"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"})
_WRONG_REFERENCE = frozenset({"ValidationException", "InvalidParameterException", "ValidationError"})


def _source_error(what: str, exc: Exception) -> SourceError:
    """One line for a failed read of `what` (e.g. "pat_secret 'ado/pat'"), classified by its AWS error code."""
    from adoscale.transient import is_transient_aws

    cause: BaseException = exc
    # powertools wraps the botocore error (raised inside its `except`, so it is the context, not the cause)
    for _ in range(5):
        inner = cause.__cause__ or cause.__context__
        if getattr(cause, "response", None) is not None or inner is None:
            break
        cause = inner
    response: Any = getattr(cause, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    name = type(cause).__name__
    if is_transient_aws(cause) or name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return SourceError(f"{what}: AWS is unavailable ({code or name}); try again", exit_code=1, transient=True)
    if code in _MISSING:
        return SourceError(f"{what}: does not exist ({code})")
    if code in _WRONG_REFERENCE:
        return SourceError(f"{what}: not a valid reference ({code})", exit_code=2)
    if "AccessDenied" in code or code.startswith("KMS") or code == "DecryptionFailure":
        return SourceError(f"{what}: cannot be read: access denied ({code})")
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError"):
        return SourceError(f"{what}: cannot be read: no AWS credentials or region ({name})")
    return SourceError(f"{what}: cannot be read ({code or name})")


def load_settings(env: Mapping[str, str], *, path: Path | None = None, reader: SourceReader | None = None) -> Config:
    """The configuration, from the first of: `path` (the CLI's --config), inline `ADOSCALE_CONFIG`, the SSM
    SecureString named by `ADOSCALE_CONFIG_PARAMETER`. `AZP_URL`, when set, overrides organization_url."""
    if path is not None:
        return parse_config(_read_file(path), source=str(path), env=env)
    inline = env.get(CONFIG_ENV)
    if inline:
        return parse_config(inline, source=CONFIG_ENV, env=env)
    name = env.get(CONFIG_PARAMETER_ENV)
    if name:
        what = f"{CONFIG_PARAMETER_ENV} {name!r}"
        try:
            text = (reader or BotoReader()).parameter(name)
        except Exception as exc:
            error = _source_error(what, exc)
            if error.exit_code == 3:
                error.exit_code = 2  # an unreadable configuration is a configuration problem
            raise error from None
        return parse_config(text, source=f"ssm:{name}", env=env)
    raise ConfigError(
        [f"no configuration: pass --config FILE, or set {CONFIG_ENV} (inline) or {CONFIG_PARAMETER_ENV} (SSM)"]
    )


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """The configuration in a file (the CLI's --config): `load_settings` with a path."""
    return load_settings(env or {}, path=path)


def resolve_pat(
    config: Config | None,
    env: Mapping[str, str],
    *,
    reader: SourceReader | None = None,
    secrets_client: Any = None,
    ssm_client: Any = None,
) -> str:
    """The PAT, from the first of: `AZP_TOKEN`; the configuration's `pat_secret` (Secrets Manager) or
    `pat_parameter` (SSM SecureString); the deployment's `AZP_TOKEN_SECRET_ARN`. Raises `SourceError` (one
    line naming the source, never the value) when the chosen source cannot be read or holds no PAT."""
    source = reader or BotoReader(secrets_client=secrets_client, ssm_client=ssm_client)
    token = env.get(PAT_ENV, "").strip()
    what = PAT_ENV
    if not token:
        if config is not None and config.pat_secret:
            what = f"pat_secret {config.pat_secret!r}"
            token = _fetch(what, lambda: unwrap_json_secret(source.secret(str(config.pat_secret)), what))
        elif config is not None and config.pat_parameter:
            what = f"pat_parameter {config.pat_parameter!r}"
            token = _fetch(what, lambda: source.parameter(str(config.pat_parameter)))
        elif env.get(PAT_SECRET_ENV):
            reference = env[PAT_SECRET_ENV]
            what = f"{PAT_SECRET_ENV} {reference!r}"
            if not _SECRET_REF.match(reference):
                raise SourceError(f"{what}: not a Secrets Manager secret name or ARN", exit_code=2)
            token = _fetch(what, lambda: unwrap_json_secret(source.secret(reference), what))
        else:
            raise SourceError(
                f"no PAT: set {PAT_ENV}, or pat_secret (Secrets Manager) or pat_parameter (SSM) in the configuration",
                exit_code=2,
            )
    if len(token) >= 4:
        register_secret(token)  # before any check below could put it into a message
    if not token:
        raise SourceError(f"{what}: is empty")
    if len(token) > 1024 or any(c.isspace() or not c.isprintable() for c in token):
        raise SourceError(f"{what}: does not hold a PAT (too long, or whitespace or control characters inside)")
    return token


def _fetch(what: str, read: Any) -> str:
    try:
        return str(read()).strip()
    except SourceError:
        raise
    except Exception as exc:
        raise _source_error(what, exc) from None


PAT_KEYS = ("pat", "PAT", "token", "AZP_TOKEN")


def unwrap_json_secret(value: str | bytes, what: str, keys: tuple[str, ...] = PAT_KEYS) -> str:
    """A plain secret string, or JSON like {"pat": "..."} as the console's key/value editor writes: the
    first of `keys` that holds a string."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{what}: holds binary data, not a secret") from None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        for key in keys:
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
        raise SourceError(f"{what}: JSON without a {', '.join(dict.fromkeys(k.lower() for k in keys))} key")
    return value


def _boto(service: str) -> Any:
    from adoscale.aws import make_client

    return make_client(service)


def config_json_schema() -> dict[str, Any]:
    return Config.model_json_schema()


def render_config_reference() -> str:
    """The configuration reference in Markdown, generated from the model's field descriptions."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            default = "required" if info.is_required() else _show_default(info.get_default(call_default_factory=True))
            lines.append(f"| `{key}` | {default} | {info.description or ''} |")
            annotation = info.annotation
            nested = _nested_model(annotation)
            if nested is not None:
                walk(nested, f"{key}[]." if _is_list(annotation) else f"{key}.")

    walk(Config, "")
    return "\n".join(lines) + "\n"


def _show_default(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "(defaults below)"
    return f"`{json.dumps(value)}`"


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


if __name__ == "__main__":  # python -m adoscale.config: print the reference table for docs/configuration.md
    print(render_config_reference(), end="")
