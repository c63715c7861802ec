"""adoscale: autoscaled, ephemeral Azure DevOps agents on AWS."""

__version__ = "0.1.0"

__all__ = ["__version__"]
