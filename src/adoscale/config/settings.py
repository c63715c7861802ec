"""Every environment variable adoscale reads, named once: the deployment's settings.

Explicit arguments (a command-line option, a configuration key) win over these; `Settings.from_env` reads
them once, and everything else takes a `Settings` rather than reading `os.environ` itself. Terraform sets
them for the Lambdas (`deploy/terraform/modules/*/`); docs/configuration.md lists them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

CONFIG_ENV = "ADOSCALE_CONFIG"
CONFIG_PARAMETER_ENV = "ADOSCALE_CONFIG_PARAMETER"
PAT_ENV = "AZP_TOKEN"
PAT_SECRET_ENV = "AZP_TOKEN_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
URL_ENV = "AZP_URL"
HOOK_SECRET_ENV = "ADOSCALE_HOOK_SECRET"  # noqa: S105 - the name of a variable, not a secret
LEASE_TABLE_ENV = "ADOSCALE_LEASE_TABLE"
STATE_TABLE_ENV = "ADOSCALE_STATE_TABLE"
ALERT_TOPIC_ENV = "ADOSCALE_ALERT_TOPIC_ARN"
HEARTBEAT_ENV = "ADOSCALE_HOOK_HEARTBEAT_SECONDS"
ENVIRONMENTS_ENV = "ADOSCALE_ENVIRONMENTS"
METRICS_NAMESPACE_ENV = "ADOSCALE_METRICS_NAMESPACE"
METRIC_NAME_ENV = "ADOSCALE_METRIC_NAME"
METRICS_ENV = "ADOSCALE_METRICS"


@dataclass(frozen=True, slots=True)
class Settings:
    """The values of the variables above (None when unset or empty). Validation of a value belongs to its
    reader (a heartbeat's bounds, a list's JSON), which names the variable in its error."""

    config_inline: str | None = None  # ADOSCALE_CONFIG: the configuration itself
    config_parameter: str | None = None  # ADOSCALE_CONFIG_PARAMETER: the SSM SecureString holding it
    organization_url: str | None = None  # AZP_URL: overrides organization_url
    pat: str | None = None  # AZP_TOKEN
    pat_secret_arn: str | None = None  # AZP_TOKEN_SECRET_ARN: the deployment's PAT secret
    hook_secret: str | None = None  # ADOSCALE_HOOK_SECRET
    lease_table: str | None = None  # ADOSCALE_LEASE_TABLE: the deployment's lease (and history) table
    state_table: str | None = None  # ADOSCALE_STATE_TABLE: Environment VMs' state table
    alert_topic_arn: str | None = None  # ADOSCALE_ALERT_TOPIC_ARN
    hook_heartbeat_seconds: str | None = None  # ADOSCALE_HOOK_HEARTBEAT_SECONDS
    environments: str | None = None  # ADOSCALE_ENVIRONMENTS: JSON list of Environments to sweep
    metrics_namespace: str | None = None  # ADOSCALE_METRICS_NAMESPACE
    metric_name: str | None = None  # ADOSCALE_METRIC_NAME: the queued-jobs metric's name
    metrics: str | None = None  # ADOSCALE_METRICS: which per-pool metrics are published (full, essential)

    @property
    def has_config(self) -> bool:
        """Whether the deployment provides a configuration (inline or SSM)."""
        return bool(self.config_inline or self.config_parameter)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env

        def get(name: str) -> str | None:
            return source.get(name) or None

        return cls(
            config_inline=get(CONFIG_ENV),
            config_parameter=get(CONFIG_PARAMETER_ENV),
            organization_url=get(URL_ENV),
            pat=get(PAT_ENV),
            pat_secret_arn=get(PAT_SECRET_ENV),
            hook_secret=get(HOOK_SECRET_ENV),
            lease_table=get(LEASE_TABLE_ENV),
            state_table=get(STATE_TABLE_ENV),
            alert_topic_arn=get(ALERT_TOPIC_ENV),
            hook_heartbeat_seconds=get(HEARTBEAT_ENV),
            environments=get(ENVIRONMENTS_ENV),
            metrics_namespace=get(METRICS_NAMESPACE_ENV),
            metric_name=get(METRIC_NAME_ENV),
            metrics=get(METRICS_ENV),
        )
