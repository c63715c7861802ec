"""The Windows boot script (the ec2-pool module's boot.ps1), checked for its structure only: PowerShell is not on the
machine that tests adoscale (no `pwsh`), so PSScriptAnalyzer cannot run and the script cannot be executed
against stand-ins as the Linux one is. What these checks hold it to is what the Linux tests prove by
running: IMDSv2 only, the instance id as the name, one job, the PAT never printed nor in an argument,
removal and shutdown whatever happens."""

from __future__ import annotations

import re

from tests.conftest import REPO

SCRIPT = (REPO / "deploy" / "terraform" / "modules" / "ec2-pool" / "boot.ps1").read_text()
TEMPLATE_VARS = {"ado_url", "pool", "pat_secret_arn", "pat_parameter_name", "agent_name_prefix", "agent_dir"}


def _code() -> list[str]:
    return [line for line in SCRIPT.splitlines() if not line.lstrip().startswith("#")]


def test_only_the_assignments_are_template_variables() -> None:
    """templatefile() reads every dollar-brace and percent-brace: only the assignments at the top may hold them."""
    found = set(re.findall(r"\$\{(\w+)\}", SCRIPT))
    assert found == TEMPLATE_VARS
    for line in _code():
        if "${" in line or "%{" in line:
            assert re.fullmatch(r"\$\w+ = '\$\{\w+\}'", line.strip()), line


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
