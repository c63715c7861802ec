"""adoscale's configuration: one YAML (or JSON) file, validated at once, every error located.

Loading reads the file; validating touches nothing else; resolving the PAT is separate and is the only
step that may call AWS. Secrets never live in the file: only where to find them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from adoscale.secrets import register_secret

Name = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapacityProvider(_Strict):
    capacity_provider: Literal["FARGATE", "FARGATE_SPOT"] = Field(description="FARGATE or FARGATE_SPOT.")
    weight: int = Field(1, ge=0, description="Relative share of tasks for this provider.")
    base: int = Field(0, ge=0, description="Tasks placed on this provider first.")


class EcsSettings(_Strict):
    cluster: Name = Field(description="ECS cluster name or ARN.")
    task_definition: Name = Field(description="Agent task definition: family, family:revision or ARN.")
    container_name: Name = Field("agent", description="The agent container in the task definition.")
    subnets: list[Name] = Field(min_length=1, description="Subnets for the tasks (awsvpc).")
    security_groups: list[Name] = Field(default_factory=list, description="Security groups for the tasks.")
    assign_public_ip: bool = Field(False, description="Give tasks a public IP (only without a NAT gateway).")
    capacity_provider_strategy: list[CapacityProvider] = Field(
        default_factory=list,
        description="Optional; default is launch type FARGATE. FARGATE_SPOT falls back to FARGATE when "
        "Spot capacity is unavailable.",
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Extra container environment (never secrets: use task definition secrets)."
    )

    @model_validator(mode="after")
    def _weights(self) -> EcsSettings:
        if self.capacity_provider_strategy and not any(p.weight > 0 for p in self.capacity_provider_strategy):
            raise ValueError("capacity_provider_strategy needs at least one provider with weight > 0")
        return self


class PoolConfig(_Strict):
    name: Name = Field(description="The Azure DevOps agent pool.")
    min_agents: int = Field(0, ge=0, description="Agents (busy, idle or starting) always kept.")
    max_agents: int = Field(10, ge=1, description="Most tasks at once.")
    standby_agents: int = Field(0, ge=0, description="Idle agents kept ready for the next job.")
    idle_timeout_seconds: int = Field(300, gt=0, description="An idle agent above min/standby is drained after this.")
    startup_timeout_seconds: int = Field(
        600, gt=0, description="A task whose agent has not come online by then is stopped."
    )
    capabilities: dict[str, str] | None = Field(
        None,
        description="What these agents offer, for demand matching (a map, or a list of names). "
        "Omitted: every queued job counts.",
    )
    agent_name_prefix: str = Field("", description="Must match AZP_AGENT_NAME_PREFIX in the task definition.")
    placeholder_name: Name = Field(
        "adoscale-placeholder", description="The placeholder agent's name (after the prefix); never deleted."
    )
    ecs: EcsSettings = Field(description="Where the agents run.")

    @field_validator("capabilities", mode="before")
    @classmethod
    def _capability_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(name): "" for name in value}
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
    grace_seconds: int = Field(900, ge=0, description="A resource whose instance is gone is removed after this.")


class Config(_Strict):
    organization_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = Field(
        description="https://dev.azure.com/<org>; the env var AZP_URL overrides it."
    )
    pat_secret: str | None = Field(None, description="Secrets Manager name or ARN holding the PAT.")
    pat_parameter: str | None = Field(None, description="SSM SecureString parameter holding the PAT.")
    metrics_namespace: str = Field("adoscale", description="CloudWatch namespace for queue metrics.")
    lease_table: str | None = Field(
        None,
        description="DynamoDB table (string partition key `pool`) that makes passes single-flight per pool. "
        "Without it, concurrent controllers are not coordinated.",
    )
    pools: list[PoolConfig] = Field(default_factory=list, description="Agent pools to autoscale.")
    environments: list[EnvironmentConfig] = Field(
        default_factory=list, description="Environments whose VM resources the sweeper checks."
    )

    @model_validator(mode="after")
    def _unique(self) -> Config:
        if self.pat_secret and self.pat_parameter:
            raise ValueError("set at most one of pat_secret and pat_parameter")
        names = [p.name.lower() for p in self.pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pool names must be unique; repeated: {', '.join(dupes)}")
        return self


class ConfigError(Exception):
    """Invalid configuration; `errors` holds one located message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _locate(source: str, raw: Any, loc: tuple[int | str, ...]) -> str:
    """`FILE: pools[1] (linux) → ecs.subnets` for a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "pools" and isinstance(loc[1], int):
        index = loc[1]
        pool_name = None
        pools = raw.get("pools") if isinstance(raw, dict) else None
        if isinstance(pools, list) and index < len(pools) and isinstance(pools[index], dict):
            pool_name = pools[index].get("name")
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
        if isinstance(shown, str | int | float | bool) or shown is None:
            message += f" (got {shown!r})"
    return message


def parse_config(text: str, source: str = "<config>", env: Mapping[str, str] | None = None) -> Config:
    """Validate configuration text (YAML, or JSON which is YAML too). Every problem is reported at once."""
    try:
        raw = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "unparseable"
        raise ConfigError([f"{source}: not valid YAML{where}: {problem}"]) from None
    if raw is None:
        raise ConfigError([f"{source}: the file is empty; expected a mapping with organization_url and pools"])
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: expected a mapping at the top level, got {type(raw).__name__}"])
    if env and env.get("AZP_URL"):
        raw = {**raw, "organization_url": env["AZP_URL"]}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = [f"{_locate(source, raw, tuple(e['loc']))}: {_message(e)}" for e in exc.errors()]
        raise ConfigError(errors) from None


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the configuration file: {exc.strerror or exc}"]) from None
    return parse_config(text, source=str(path), env=env)


def resolve_pat(
    config: Config,
    env: Mapping[str, str],
    *,
    secrets_client: Any = None,
    ssm_client: Any = None,
) -> str:
    """The PAT: `AZP_TOKEN`, else the Secrets Manager secret, else the SSM SecureString parameter."""
    pat = env.get("AZP_TOKEN")
    if not pat and config.pat_secret:
        client = secrets_client or _boto("secretsmanager")
        pat = client.get_secret_value(SecretId=config.pat_secret)["SecretString"]
        pat = _unwrap_json_secret(pat)
    if not pat and config.pat_parameter:
        client = ssm_client or _boto("ssm")
        pat = client.get_parameter(Name=config.pat_parameter, WithDecryption=True)["Parameter"]["Value"]
    if not pat:
        raise ConfigError(
            ["no PAT: set AZP_TOKEN, or pat_secret (Secrets Manager) or pat_parameter (SSM) in the configuration"]
        )
    pat = pat.strip()
    register_secret(pat)
    return pat


def _unwrap_json_secret(value: str) -> str:
    """Accept a plain secret string, or JSON like {"pat": "..."} as the console's key/value editor writes."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        for key in ("pat", "PAT", "token", "AZP_TOKEN"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
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
