"""The Windows boot script (the ec2-pool module's boot.ps1). PowerShell itself is not on the machine that tests
adoscale (no `pwsh` in PyPI, Debian or npm; it comes from NuGet or GitHub, neither reachable here), so
PSScriptAnalyzer cannot run and the script cannot be executed against stand-ins as the Linux one is.

What is checked instead:
- its syntax, with a real PowerShell parser: the tree-sitter grammar `tree-sitter-powershell` (Airbus CERT,
  written from the PowerShell language specification; a dev dependency), on the template as written and on
  the user data Terraform renders from it with awkward values; a broken copy must fail the same check;
- its structure, holding it to what the Linux tests prove by running: IMDSv2 only, the instance id as the
  name, one job, the PAT never printed nor in an argument, removal and shutdown whatever happens.

The grammar checks syntax, not meaning: a misspelt cmdlet or a wrong parameter still parses, and it reads only
the ASCII quote as a string delimiter where PowerShell also reads the typographic ones (U+2018-U+201B), so
that rule is checked apart (`_verbatim_value`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from tests.agent.test_ec2_boot import _terraform_render
from tests.conftest import REPO

BOOT = REPO / "deploy" / "terraform" / "modules" / "ec2-pool" / "boot.ps1"
SCRIPT = BOOT.read_text()
TEMPLATE_VARS = {"ado_url", "pool", "pat_secret_arn", "pat_parameter_name", "agent_name_prefix", "agent_dir"}
# Every template value goes through this: its quote characters doubled (see the script's header).
QUOTED = r"""'\$\{replace\((\w+), "/\[\\u0027\\u2018-\\u201B\]/", "\$0\$0"\)\}'"""
# PowerShell Language Specification 3.0, B.1 Lexical grammar: single-quote-character is ' (U+0027) or
# U+2018, U+2019, U+201A, U+201B; a verbatim string holds any character but those, or two of them in a row.
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
PARSER = Parser(Language(tree_sitter_powershell.language()))


def syntax_errors(script: str) -> list[str]:
    """Where the PowerShell grammar could not read `script` (its ERROR and MISSING nodes), as `line:column text`."""
    source = script.encode()
    found: list[str] = []
    stack = [PARSER.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            row, column = node.start_point
            text = source[node.start_byte : node.end_byte].decode(errors="replace")[:60]
            found.append(f"{row + 1}:{column + 1} {'missing ' + node.type if node.is_missing else text!r}")
        elif node.has_error:
            stack.extend(reversed(node.children))
    return found


def _assignments(script: str) -> dict[str, str]:
    """The literal first assigned to each `$Name = '...'` in the script, quotes included, in document order."""
    found: dict[str, str] = {}
    for node in _walk(PARSER.parse(script.encode()).root_node):
        if node.type == "assignment_expression":
            target, value = node.children[0], node.children[-1]
            literals = [n.text for n in _walk(value) if n.type == "verbatim_string_characters"]
            if len(literals) == 1 and target.text is not None and literals[0] is not None:
                found.setdefault(target.text.decode().lstrip("$"), literals[0].decode())
    return found


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _verbatim_value(literal: str) -> str:
    """What PowerShell reads from a single-quoted literal (quotes included): two quote characters in a row
    are one; a lone one would have ended the string, so there must be none."""
    assert literal[0] in SINGLE_QUOTES and literal[-1] in SINGLE_QUOTES, literal
    inner = literal[1:-1]
    assert re.fullmatch(f"(?:[^{SINGLE_QUOTES}]|[{SINGLE_QUOTES}]{{2}})*", inner), f"a lone quote ends {literal!r}"
    return re.sub(f"([{SINGLE_QUOTES}])[{SINGLE_QUOTES}]", r"\1", inner)


def _code() -> list[str]:
    return [line for line in SCRIPT.splitlines() if not line.lstrip().startswith("#")]


def test_only_the_assignments_are_template_variables() -> None:
    """templatefile() reads every dollar-brace and percent-brace: only the assignments at the top may hold them,
    each value quoted the one way."""
    found = set(re.findall(r"\$\{(?:replace\()?(\w+)", SCRIPT))
    assert found == TEMPLATE_VARS
    for line in _code():
        if "${" in line or "%{" in line:
            assert re.fullmatch(r"\$\w+ = " + QUOTED, line.strip()), line


# -- syntax: a real PowerShell parser ------------------------------------------------------------------------


def test_the_script_parses_as_powershell() -> None:
    assert syntax_errors(SCRIPT) == []


@pytest.mark.parametrize(
    ("what", "old", "new"),
    [
        ("an unterminated string", '"$Imds/latest/api/token"', '"$Imds/latest/api/token'),
        ("a try without its closing brace", "    $agent.WaitForExit()\n    $exitCode = $agent.ExitCode\n}", ""),
        ("an unclosed subexpression", '"$($JobUser):(OI)(CI)RX"', '"$($JobUser:(OI)(CI)RX"'),
        ("an unclosed condition", "if (-not $AdoUrl)", "if (-not $AdoUrl"),
        ("a lost line continuation", "-TimeoutSec 5 `\n", "-TimeoutSec 5\n"),
        ("a shell idiom", "$exitCode = 1\n", '$exitCode = 1\nif [ -z "$x" ]; then exit 1; fi\n'),
    ],
)
def test_a_broken_copy_fails_the_parse(what: str, old: str, new: str) -> None:
    """The check can fail: each of these breaks the script, and the parser says where."""
    assert SCRIPT.count(old) == 1, what
    assert syntax_errors(SCRIPT.replace(old, new)) != [], what


def test_the_rendered_user_data_parses_and_keeps_each_value_whatever_its_quotes(tmp_path: Path) -> None:
    """What ships is the script Terraform renders (templatefile, as main.tf does): a pool name with an
    apostrophe (Azure DevOps restricts no such character; adoscale's configuration takes any name) used
    to end the string early and break the whole script."""
    values = {
        "ado_url": "https://dev.azure.com/contoso",
        "pool": 'Bob\'s \u2018fast\u2019 pool $(Stop-Computer) `n "x"',
        "pat_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ado-pat-AbCdEf",
        "pat_parameter_name": "",
        "agent_name_prefix": "o'brien-",
        "agent_dir": "",
    }
    main = (BOOT.parent / "main.tf").read_text()
    names = re.findall(r"^\s{4}(\w+)\s+=", main[main.index("boot_vars = {") : main.index("user_data =")], re.M)
    rendered = _terraform_render(tmp_path, BOOT, {name: values.get(name, "") for name in names})
    assert syntax_errors(rendered) == []
    read = {name: _verbatim_value(literal) for name, literal in _assignments(rendered).items()}
    assert read["Pool"] == values["pool"]
    assert read["AgentNamePrefix"] == values["agent_name_prefix"]
    assert read["AdoUrl"] == values["ado_url"] and read["PatSecretArn"] == values["pat_secret_arn"]


def test_unquoted_the_same_values_would_break_the_script() -> None:
    """Why the values are quoted: the same pool name put in as it is ends its string early."""
    plain = re.sub(QUOTED, lambda m: "'${" + m.group(1) + "}'", SCRIPT)
    assert plain != SCRIPT
    rendered = re.sub(r"\$\{(\w+)\}", lambda m: "Bob's pool" if m.group(1) == "pool" else "", plain)
    assert syntax_errors(rendered) != []


# -- structure -----------------------------------------------------------------------------------------------


def test_imdsv2_only_and_the_instance_id_names_the_agent() -> None:
    code = "\n".join(_code())
    assert '-Method Put -Uri "$Imds/latest/api/token"' in code
    metadata_reads = re.findall(r"Invoke-RestMethod -Uri \"\$Imds/latest/meta-data/[^\"]+\"[^\n]*", code)
    assert len(metadata_reads) == 2 and all("-Headers $imdsHeaders" in read for read in metadata_reads)
    assert '$name = "$AgentNamePrefix$instanceId"' in code and "--agent $name" in code


def test_one_job_as_a_non_administrator_refused_imds() -> None:
    code = "\n".join(_code())
    assert "-ArgumentList '--once' -Credential $credential" in code
    assert "Add-LocalGroupMember" not in code  # never an administrator
    assert code.index("New-NetFirewallRule") < code.index("Start-Process")
    assert "-RemoteAddress 169.254.169.254 -LocalUser $sddl" in code


def test_the_pat_is_never_printed_nor_an_argument_and_lives_in_config_cmds_environment_only() -> None:
    code = _code()
    for line in code:
        if re.search(r"Write-(Host|Log|Output|Verbose|Information)|Out-File|Set-Content|Add-Content", line):
            assert "$pat" not in line, line
        if "config.cmd" in line:
            assert "$pat" not in line, line
    text = "\n".join(code)
    # Every assignment of the token variable is undone in a finally block right after its config.cmd.
    assert text.count("$env:VSTS_AGENT_INPUT_TOKEN = $pat") == 2
    assert text.count("Remove-Item Env:\\VSTS_AGENT_INPUT_TOKEN") == 2
    assert text.index("Remove-Item Env:\\VSTS_AGENT_INPUT_TOKEN") < text.index("Start-Process")


def test_removal_and_shutdown_whatever_happens() -> None:
    text = "\n".join(_code())
    # The outermost try's finally: after everything else, so it runs whatever failed or was interrupted.
    finally_block = text[text.index("} finally {\n    if ($pat") :]
    assert "config.cmd remove --unattended --auth pat" in finally_block
    assert finally_block.rstrip().endswith("Stop-Computer -Force\n}")
    assert "spot/instance-action" in text and "taskkill.exe /PID $agent.Id /T" in text
