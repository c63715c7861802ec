"""The configuration's model: one typed document, bounds a user can rely on, defaults defined once.

Validating touches nothing but the values: no file, no AWS, no clock. Secrets never live here, only where
to find them (`pat_secret`, `pat_parameter`, `hooks.secret_name`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adoscale.scaling.model import PoolPolicy
from adoscale.scaling.warm import WarmPolicy

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

# Defaults are defined once, by the engine's policies (what the engine does when nothing is configured); the
# configuration's fields take them from there.
_POOL = PoolPolicy()
_WARM = WarmPolicy()

# Which per-pool metrics the pass publishes (`adoscale.metrics.PUBLISHED` says which names each set holds).
MetricSet = Literal["full", "essential"]


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


Ec2AllocationStrategy = Literal["price-capacity-optimized", "capacity-optimized", "lowest-price", "diversified"]


class Ec2Settings(_Strict):
    """One EC2 instance per job (docs/ec2.md): an instant EC2 Fleet from the pool's launch template, with the
    instance types and subnets as its overrides. The launch template (the `ec2-pool` Terraform module's)
    carries the image, the user data that names the pool, the instance profile and the security group."""

    launch_template: Name = Field(description="Launch template name or id (lt-...): image, user data, profile.")
    launch_template_version: Annotated[
        str, Field(min_length=1, max_length=32, pattern=r"^(\$Latest|\$Default|\d+)$")
    ] = Field("$Latest", description="Version of the launch template: a number, $Latest or $Default.")
    instance_types: list[Annotated[str, Field(pattern=r"^[a-z0-9-]+\.[a-z0-9-]+$", max_length=64)]] = Field(
        min_length=1, max_length=20, description="Instance types the fleet may choose from (1-20), e.g. m7i.large."
    )
    subnets: list[Name] = Field(min_length=1, max_length=16, description="Subnets to launch into (1-16).")
    spot: StrictBool = Field(False, description="Launch Spot instances (up to 90% cheaper; 2-minute interruptions).")
    on_demand_fallback: StrictBool = Field(
        True, description="When Spot has no capacity (or its quota is reached), launch the rest on demand."
    )
    allocation_strategy: Ec2AllocationStrategy = Field(
        "price-capacity-optimized",
        description="Spot: price-capacity-optimized, capacity-optimized, lowest-price or diversified. On demand "
        "the fleet picks the lowest price.",
    )
    root_volume_gb: StrictInt | None = Field(
        None, ge=8, le=16_384, description="Root volume size (GiB, gp3, encrypted); none: the launch template's."
    )
    root_device_name: Annotated[str, Field(pattern=r"^/dev/[a-z0-9]+$", max_length=32)] = Field(
        "/dev/xvda", description="The image's root device (/dev/xvda on Amazon Linux, /dev/sda1 on Windows)."
    )


_NOT_A_ZONE = "unknown time zone: an IANA name is expected, such as 'Europe/Berlin'"  # the loader adds the value


def _iana_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    # `localtime` and `posixrules` are files of the machine's zone database, not zones: the controller's own
    # zone wherever it runs (UTC in Lambda), which is not what a pool's configuration should depend on.
    if value in {"localtime", "posixrules"}:
        raise ValueError(_NOT_A_ZONE)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_NOT_A_ZONE) from None
    return value


# An IANA time zone name, checked against the zone database when the configuration is read.
Zone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_iana_zone)]


class WarmScheduleConfig(_Strict):
    cron: Annotated[str, Field(min_length=9, max_length=100)] = Field(
        description="When the window opens: minute hour day-of-month month day-of-week (0 = Sunday)."
    )
    duration_minutes: StrictInt = Field(description="How long the window stays open (1-1440).", ge=1, le=1440)
    agents: AgentCount = Field(description="Warm agents while it is open.")
    # None: the warm pool's `timezone` (UTC unless set), so a pool's zone is written once. A configuration from
    # before the pool's zone existed has UTC there, and its schedules read the clock as they did.
    timezone: Zone | None = Field(None, description="IANA time zone; none: the warm pool's timezone.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from adoscale.scaling.warm import parse_cron

        parse_cron(value)
        return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true/false")  # noqa: TRY004 - pydantic reports ValueError
    return value


Number = Annotated[float, BeforeValidator(_no_bool)]


class WarmPoolConfig(_Strict):
    mode: Literal["off", "schedule", "predictive"] = Field(_WARM.mode.value, description="off, schedule or predictive.")
    max_agents: AgentCount = Field(_WARM.max_agents, description="Most warm (idle, ready) agents.")
    budget_agent_hours_per_day: Number | None = Field(
        None,
        ge=0,
        le=24 * MAX_AGENTS,
        description="Idle warm agent-hours allowed per day (the warm pool's `timezone`); none: no budget.",
    )
    schedules: list[WarmScheduleConfig] = Field(
        default_factory=list, max_length=50, description="Windows with a fixed warm size (mode schedule)."
    )
    quantile: Number = Field(_WARM.quantile, gt=0, lt=1, description="Predictive: cover this share of likely arrivals.")
    window_seconds: Seconds = Field(
        int(_WARM.window_s), description="Predictive: the recent window the arrival rate comes from."
    )
    seasonal_days: StrictInt = Field(
        _WARM.seasonal_days,
        ge=0,
        le=28,
        description="Predictive: same time of day on this many days (at the weekend, its days of twice as many).",
    )
    horizon_seconds: Seconds = Field(
        int(_WARM.horizon_s), description="Predictive: a cold start plus the time to notice a job."
    )
    drain_after_seconds: Seconds = Field(
        int(_WARM.drain_after_s),
        description="Idle agents beyond the warm size drain after this (if sooner than idle_timeout_seconds).",
    )
    idle_share: Number | None = Field(
        None,
        gt=0,
        le=10,
        description="Predictive: idle agent-minutes allowed per busy minute; where jobs are short the quantile "
        "falls to what that affords. None: the quantile alone.",
    )
    # None (the default) learns it: the pool's agents' measured start-ups once enough have come online. An old
    # configuration that gave a value keeps it, used as given.
    startup_seconds: Seconds | None = Field(
        None,
        description=f"Predictive: an agent's launch to online, for idle_share. None: learnt from the pool's "
        f"agents ({int(_WARM.startup_s)} until known); a value is used as given.",
    )
    timezone: Zone = Field(
        _WARM.timezone,
        description="IANA time zone whose days the forecast compares (the same local time of day, weekdays "
        "and weekends) and the schedules' default.",
    )


# The lease table's items that are not a pool's lease, whose key is the pool's name: the pool's demand history
# (`history#`), a hook's pass request (`hook#`), its incidents (`incident#`, `incident-wait#`) and the
# deployment's failing rounds (`incident-round`). A pool named like one would share an item with it.
RESERVED_POOL_PREFIXES = ("history#", "hook#", "incident#", "incident-wait#", "incident-round")


class PoolConfig(_Strict):
    name: Name = Field(description="The Azure DevOps agent pool.")
    min_agents: AgentCount = Field(
        _POOL.min_agents, description="Agents (busy, idle or starting) always kept (≤ 1000)."
    )
    max_agents: StrictInt = Field(_POOL.max_agents, ge=1, le=MAX_AGENTS, description="Most tasks at once (1-1000).")
    standby_agents: AgentCount = Field(
        _POOL.standby_agents, description="Idle agents kept ready for the next job (≤ max_agents)."
    )
    idle_timeout_seconds: Seconds = Field(
        _POOL.idle_timeout_seconds, description="An idle agent above min/standby is drained after this (≤ 86400)."
    )
    startup_timeout_seconds: Seconds = Field(
        _POOL.startup_timeout_seconds,
        description="A task whose agent has not come online by then is stopped (≤ 86400).",
    )
    capabilities: dict[Name, Annotated[str, Field(max_length=1024)]] | None = Field(
        None,
        max_length=500,
        description="What these agents offer, for demand matching (a map, or a list of names). "
        "Omitted: every queued job counts.",
    )
    agent_name_prefix: Annotated[str, Field(max_length=64)] = Field(
        _POOL.agent_name_prefix, description="Must match AZP_AGENT_NAME_PREFIX in the task definition."
    )
    placeholder_name: Name = Field(
        _POOL.placeholder_name, description="The placeholder agent's name (after the prefix); never deleted."
    )
    platform: Literal["linux/x64", "linux/arm64"] = Field(
        "linux/x64",
        description="The agents' OS/CPU (the task definition's runtime platform): the system capabilities "
        "(Agent.OS, Agent.OSArchitecture) the placeholder registers and demands are matched against.",
    )
    ecs: EcsSettings | None = Field(None, description="Where the agents run on ECS Fargate (this or `ec2`).")
    ec2: Ec2Settings | None = Field(None, description="Where the agents run on EC2, one instance per job (or `ecs`).")
    warm_pool: WarmPoolConfig = Field(
        default_factory=WarmPoolConfig, description="Idle agents kept ready from a schedule or from recent demand."
    )

    @field_validator("name")
    @classmethod
    def _not_a_table_item(cls, value: str) -> str:
        reserved = next((p for p in RESERVED_POOL_PREFIXES if value.startswith(p)), None)
        if reserved is not None:
            raise ValueError(f"a name starting {reserved!r} is adoscale's own item in the lease table")
        return value

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

    @model_validator(mode="after")
    def _one_placement(self) -> PoolConfig:
        if (self.ecs is None) == (self.ec2 is None):
            # A custom error type, so the loader names the pool and says which keys (docs/ec2.md).
            raise PydanticCustomError(
                "placement",
                "set exactly one of `ecs` (Fargate) and `ec2` (one instance per job); "
                + ("both are set" if self.ecs is not None else "neither is set"),
            )
        return self

    @property
    def compute_type(self) -> Literal["ecs", "ec2"]:
        return "ecs" if self.ecs is not None else "ec2"

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
    metrics: MetricSet = Field(
        "full",
        description="Which per-pool metrics the pass Lambda publishes: full (17, the dashboard's) or essential "
        "(the queued jobs and the pass errors: the seed's cost); ADOSCALE_METRICS (Terraform's `metrics`) wins.",
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
        from adoscale.config.overrides import OVERRIDES_MAX, container_overrides, overrides_size

        over: list[tuple[int, int]] = []
        for index, pool in enumerate(self.pools):
            if pool.ecs is None:
                continue  # an EC2 pool's agent reads its pool from the launch template's user data
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
