"""What the command modules share: the --config option, logging with secrets redacted (quiet unless asked),
loading the configuration and the PAT, printing an expected error without a traceback, and tables that fit
the terminal or stack below it."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from adoscale.ado.errors import AdoAuthError, AdoError
from adoscale.cli import EXIT_AUTH, EXIT_CONFIG, EXIT_FAILED
from adoscale.config import Config, ConfigError, Settings, load_settings, resolve_pat
from adoscale.secrets import install_log_redaction, redact

err = Console(stderr=True)

ConfigOption = typer.Option(
    ..., "--config", "-c", help="The YAML (or JSON) configuration file.", exists=False, dir_okay=False
)


VerboseOption = typer.Option(
    0, "--verbose", "-v", count=True, help="-v: adoscale's INFO lines; -vv: DEBUG, and the libraries' INFO too."
)
JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")

# The libraries whose INFO lines (credentials found, each HTTP request) are noise to a user: shown from -vv only.
LIBRARIES = ("botocore", "boto3", "urllib3", "httpx", "httpcore", "aws_lambda_powertools", "s3transfer")


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_OURS = "_adoscale_cli"
_CHANGED: dict[str, int] = {}  # the loggers whose level setup_logging changed, with their level before


class _OneLineFormatter(logging.Formatter):
    """Each record on one line, without its traceback (shown from -vv): a failure the pass reports is
    already named in its message and in the report; the stack is for whoever debugs adoscale itself."""

    def format(self, record: logging.LogRecord) -> str:
        plain = logging.makeLogRecord(record.__dict__)
        plain.exc_info = None
        plain.exc_text = None
        plain.stack_info = None
        if record.exc_info and record.exc_info[1] is not None:
            plain.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            plain.args = None
        return one_line(super().format(plain), limit=LOG_LINE_MAX)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler on the current `sys.stderr`, looked up at each line: one bound at set-up outlives a
    swapped stream (a command run in-process by a test runner) and then fails on a closed file."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # StreamHandler's constructor sets it; the property always answers the current stderr


def setup_logging(verbosity: int = 0, *, base: int = 0) -> None:
    """Quiet by default: warnings and errors only. `verbosity` (the count of -v) plus `base` (1 for a
    long-running command such as `serve`, whose INFO lines are its record): 1 adoscale's INFO, 2 and more
    DEBUG and the libraries' INFO (never below). Logger levels are changed only when asked, and put back by
    the next call (several commands run in one process under a test runner)."""
    level = verbosity + base
    for name, previous in _CHANGED.items():
        logging.getLogger(name).setLevel(previous)
    _CHANGED.clear()
    wanted: dict[str, int] = {}
    if level >= 1:
        wanted["adoscale"] = logging.INFO if level == 1 else logging.DEBUG
    if verbosity >= 2:
        wanted.update(dict.fromkeys(LIBRARIES, logging.INFO))
    for name, value in wanted.items():
        logger = logging.getLogger(name)
        _CHANGED[name] = logger.level
        logger.setLevel(value)
    root = logging.getLogger()
    # One handler of ours, writing to whatever sys.stderr is when a line is logged (a test runner swaps it and
    # closes the old one), replacing the one an earlier command of this process installed; anyone else's
    # handlers (pytest's capture) are left alone. The root logger stays at its WARNING: the libraries' INFO
    # lines never reach a handler unless asked for.
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    setattr(handler, _OURS, True)
    handler.setFormatter(_OneLineFormatter(LOG_FORMAT) if verbosity < 2 else logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    install_log_redaction()


def lease_table_or_exit(table: str | None) -> None:
    """Refuse a configured `lease_table` that does not exist (exit 2) before any pass, dry runs included:
    otherwise every pass fails on its lease and a dry run, which takes no lease, passes. A table that
    cannot be described for another reason (no permission for DescribeTable, AWS unreachable) is left to
    the pass, which reports its own error per pool."""
    if not table:
        return
    from adoscale.aws import error_code, make_client

    try:
        make_client("dynamodb").describe_table(TableName=table)
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            fail("no lease table", f"lease_table {table!r}: does not exist in this account and region")
            raise typer.Exit(EXIT_CONFIG) from None
        logging.getLogger("adoscale.cli").warning(
            "lease_table %r: cannot be described (%s); the passes will say whether they can use it",
            table,
            error_code(exc) or type(exc).__name__,
        )


def fail(title: str, detail: str) -> None:
    # Details are printed without markup: config paths like pools[1] must not be read as rich tags.
    err.print(f"[bold red]{title}[/bold red]")
    err.print(redact(detail), markup=False, highlight=False, soft_wrap=True)


def load_or_exit(path: Path) -> Config:
    """The configuration in `path` (`load_settings`' first source); exit 2 with every problem located."""
    try:
        return load_settings(Settings.from_env(), path=path)
    except ConfigError as exc:
        fail("invalid configuration", str(exc))
        raise typer.Exit(exc.exit_code or EXIT_CONFIG) from None


def pat_or_exit(config: Config) -> str:
    """The PAT (`resolve_pat`'s precedence); exit 3 with one line naming a source that cannot be read, 2 for a
    wrong reference or none at all, 1 when AWS is unavailable."""
    try:
        return resolve_pat(config, Settings.from_env())
    except ConfigError as exc:
        fail("no Azure DevOps PAT", str(exc))
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def ado_errors_exit() -> Iterator[None]:
    """Azure DevOps failures as one line and an exit code: 3 for a refused PAT, 1 for anything else."""
    try:
        yield
    except AdoAuthError as exc:
        fail("Azure DevOps authentication failed", str(exc))
        raise typer.Exit(EXIT_AUTH) from None
    except AdoError as exc:
        fail("Azure DevOps call failed", str(exc))
        raise typer.Exit(EXIT_FAILED) from None


_HTML = re.compile(r"<\s*(!doctype|html|head|body)\b.*", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
NOTE_MAX = 200
LOG_LINE_MAX = 400
WRAP_MIN = 20


def one_line(text: str, limit: int = NOTE_MAX) -> str:
    """`text` fit for a table cell or a log line: an HTML page someone's proxy or server answered (botocore
    puts a non-XML error body into the message whole) replaced by "(HTML page omitted)", whitespace
    collapsed, secrets redacted, cut at `limit` characters."""
    text = _HTML.sub("(HTML page omitted)", redact(text))
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def print_rows(
    console: Console,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    notes: Sequence[Sequence[str]] | None = None,
    right: Sequence[str] = (),
    wrap: Sequence[str] = (),
) -> None:
    """A table when it fits the console's width (the `wrap` columns, prose, may wrap down to
    `WRAP_MIN` characters; the others never do); below that, each row stacked as its first cell and then
    `column value` pairs, so that nothing is cut to a few characters (80-column CI logs, `| tee`).
    `notes` are each row's extra lines (errors, warnings), in a wrapping last column of the table or under
    the row. Cells are plain text (never read as markup)."""
    notes = notes or [[] for _ in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    needed = sum(min(w, WRAP_MIN) if c in wrap else w for c, w in zip(columns, widths, strict=True))
    has_notes = any(notes)
    # rich's default box: a border and one space of padding either side of every cell.
    needed += 3 * (len(columns) + has_notes) + 1 + (WRAP_MIN if has_notes else 0)
    if needed <= console.width:
        table = Table(title=title)
        for column in columns:
            table.add_column(
                column,
                justify="right" if column in right else "left",
                no_wrap=column not in wrap,
                overflow="fold" if column in wrap else "ellipsis",
                min_width=min(WRAP_MIN, widths[columns.index(column)]) if column in wrap else None,
            )
        if has_notes:
            table.add_column("errors / warnings", overflow="fold", min_width=WRAP_MIN)
        for row, row_notes in zip(rows, notes, strict=True):
            cells = [*row, *(["\n".join(row_notes)] if has_notes else [])]
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
        return
    console.print(title, markup=False, highlight=False)
    for row, row_notes in zip(rows, notes, strict=True):
        pairs = [f"{c} {v}" for c, v in zip(columns[1:], row[1:], strict=True) if v]
        console.print(f"{row[0]}: " + ", ".join(pairs), markup=False, highlight=False)
        for note in row_notes:
            console.print(f"  {note}", markup=False, highlight=False)
