"""The configuration's errors: every problem located, one line each, never a secret's value."""

from __future__ import annotations


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
