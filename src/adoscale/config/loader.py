"""The hardened loader: YAML (or JSON) text to a validated `Config`, every problem at once and located.

Nothing a user can put in the document gets past the loader as anything but a `ConfigError` naming the
source, and for a pool the pool and the field: the size is capped before parsing, bytes must be UTF-8,
keys must be unique, nesting and alias expansion are bounded, integers are integers (no `true`, no `5.0`)
within documented bounds.

One precedence (`load_settings`) serves the CLI and every Lambda: a file given on the command line, else
inline `ADOSCALE_CONFIG`, else the SSM SecureString named by `ADOSCALE_CONFIG_PARAMETER`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from adoscale.config.errors import ConfigError
from adoscale.config.model import MAX_CONFIG_BYTES, MAX_NESTING, MAX_VALUES, Config
from adoscale.config.secrets import SecretSource, SourceReader, source_error
from adoscale.config.settings import CONFIG_ENV, CONFIG_PARAMETER_ENV, Settings

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

    def construct_text(self, node: Any) -> str:
        """A string, with JSON's UTF-16 escapes read as JSON reads them: YAML decodes `\\uD83D\\uDE00` (how JSON
        writes a character outside the Basic Multilingual Plane) as two lone surrogates, which no encoder
        accepts later; a pair becomes its one character, and a lone surrogate is refused where it stands."""
        text: str = self.construct_scalar(node)
        if not any("\ud800" <= char <= "\udfff" for char in text):
            return text
        try:
            return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a \\u escape that is half of a character (a lone UTF-16 surrogate)", node.start_mark
            ) from None

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


_Loader.add_constructor("tag:yaml.org,2002:str", _Loader.construct_text)


def _yaml_problem(source: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or "")
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        return f"{source}: not readable as text: character #x{code:04x} at offset {exc.position}"
    if mark is not None and problem.startswith(("duplicate key", "nested deeper", "more than", "a \\u escape")):
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


def parse_config(data: str | bytes, source: str = "<config>", *, organization_url: str | None = None) -> Config:
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
    if organization_url:  # AZP_URL, the deployment's, wins over the document's
        raw = {**raw, "organization_url": organization_url}
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


def load_settings(settings: Settings, *, path: Path | None = None, source: SourceReader | None = None) -> Config:
    """The configuration, from the first of: `path` (the CLI's --config), inline `ADOSCALE_CONFIG`, the SSM
    SecureString named by `ADOSCALE_CONFIG_PARAMETER`. `AZP_URL`, when set, overrides organization_url."""
    url = settings.organization_url
    if path is not None:
        return parse_config(_read_file(path), source=str(path), organization_url=url)
    if settings.config_inline:
        return parse_config(settings.config_inline, source=CONFIG_ENV, organization_url=url)
    name = settings.config_parameter
    if name:
        what = f"{CONFIG_PARAMETER_ENV} {name!r}"
        try:
            text = (source or SecretSource()).parameter(name)
        except Exception as exc:
            error = source_error(what, exc)
            if error.exit_code == 3:
                error.exit_code = 2  # an unreadable configuration is a configuration problem
            raise error from None
        return parse_config(text, source=f"ssm:{name}", organization_url=url)
    raise ConfigError(
        [f"no configuration: pass --config FILE, or set {CONFIG_ENV} (inline) or {CONFIG_PARAMETER_ENV} (SSM)"]
    )


def load_config(path: Path, settings: Settings | None = None) -> Config:
    """The configuration in a file (the CLI's --config): `load_settings` with a path."""
    return load_settings(settings or Settings(), path=path)
