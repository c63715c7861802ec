"""adoscale's configuration: one YAML (or JSON) document, validated at once, every error located.

Split by job: `model` (the typed document, defaults defined once), `loader` (the hardened parser and the
one precedence every runtime uses), `secrets` (one `SecretSource` for the PAT and every other secret),
`settings` (every environment variable, named once), `errors`, `overrides` (what ECS accepts of a pool's
container overrides) and `reference` (the generated table in docs/configuration.md).
"""

from adoscale.config.errors import ConfigError, SourceError
from adoscale.config.loader import load_config, load_settings, parse_config
from adoscale.config.model import (
    MAX_AGENTS,
    MAX_CONFIG_BYTES,
    MAX_POOLS,
    MAX_SECONDS,
    CapacityProvider,
    Config,
    Ec2Settings,
    EcsSettings,
    EnvironmentConfig,
    HooksConfig,
    MetricSet,
    PoolConfig,
    WarmPoolConfig,
    WarmScheduleConfig,
)
from adoscale.config.reference import config_json_schema, render_config_reference
from adoscale.config.secrets import (
    SecretSource,
    SourceReader,
    read_secret,
    resolve_pat,
    source_error,
    unwrap_json_secret,
)
from adoscale.config.settings import Settings

__all__ = [
    "MAX_AGENTS",
    "MAX_CONFIG_BYTES",
    "MAX_POOLS",
    "MAX_SECONDS",
    "CapacityProvider",
    "Config",
    "ConfigError",
    "Ec2Settings",
    "EcsSettings",
    "EnvironmentConfig",
    "HooksConfig",
    "MetricSet",
    "PoolConfig",
    "SecretSource",
    "Settings",
    "SourceError",
    "SourceReader",
    "WarmPoolConfig",
    "WarmScheduleConfig",
    "config_json_schema",
    "load_config",
    "load_settings",
    "parse_config",
    "read_secret",
    "render_config_reference",
    "resolve_pat",
    "source_error",
    "unwrap_json_secret",
]
