"""The configuration reference in docs/configuration.md, generated from the model's field descriptions
(`python -m adoscale.config` prints it; a test keeps the doc current)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from adoscale.config.model import Config


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
