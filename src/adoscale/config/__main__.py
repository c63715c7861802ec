"""`python -m adoscale.config`: print the reference table for docs/configuration.md."""

from adoscale.config.reference import render_config_reference

print(render_config_reference(), end="")
