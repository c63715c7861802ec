# adoscale EC2 user data for Windows Server (EC2Launch v2 runs it as LocalSystem, wrapped by the ec2-pool
# module in <powershell>...</powershell>): the same one-job life as boot.sh beside it.
#
# Read the instance id through IMDSv2 (the agent's name); create a local, non-administrator job user with a
# random password and block it from the instance metadata service (Windows Firewall, by user); read the PAT
# with the instance role (AWS Tools for PowerShell, on Amazon's Windows images); register with config.cmd,
# the PAT in config.cmd's environment only; run one job (run.cmd --once) as the job user; remove the
# registration; shut down (the launch template's shutdown behaviour terminates the instance). A Spot
# interruption notice (IMDS spot/instance-action) stops the job: Windows has no SIGTERM, so the job's
# process tree is ended (taskkill /T) and the registration removed before the instance goes.
#
# Terraform renders this file with templatefile(): the template variables are the dollar-brace
# assignments at the top only; below them the script uses PowerShell variables with no braces. Each value
# lands in a verbatim (single-quoted) string with its quote characters doubled: PowerShell ends such a
# string at ' and at the typographic U+2018-U+201B as well (PowerShell Language Specification 3.0, B.1,
# single-quote-character), so a pool named "Bob's pool" stays one string instead of breaking the script.
#
# Not run here: PowerShell is not on the machine that tests adoscale. This script is parsed with a
# PowerShell grammar (tree-sitter-powershell), as written and as Terraform renders it, and checked for its
# structure (tests/agent/test_ec2_boot_windows.py); it is not linted with PSScriptAnalyzer or executed.

$ErrorActionPreference = 'Stop'
$AdoUrl = '${replace(ado_url, "/[\u0027\u2018-\u201B]/", "$0$0")}'
$Pool = '${replace(pool, "/[\u0027\u2018-\u201B]/", "$0$0")}'
$PatSecretArn = '${replace(pat_secret_arn, "/[\u0027\u2018-\u201B]/", "$0$0")}'
$PatParameterName = '${replace(pat_parameter_name, "/[\u0027\u2018-\u201B]/", "$0$0")}'
$AgentNamePrefix = '${replace(agent_name_prefix, "/[\u0027\u2018-\u201B]/", "$0$0")}'
$AgentDir = '${replace(agent_dir, "/[\u0027\u2018-\u201B]/", "$0$0")}'
$Imds = 'http://169.254.169.254'
$JobUser = 'azjob'

function Write-Log([string]$Message) { Write-Host "adoscale-ec2: $Message" }

$exitCode = 1
try {
    if (-not $AgentDir) { $AgentDir = 'C:\azagent' }
    if (-not $AdoUrl) { throw 'no Azure DevOps URL: set ado_url in the launch template' }
    if (-not $Pool) { throw 'no agent pool: set pool in the launch template' }

    $imdsToken = Invoke-RestMethod -Method Put -Uri "$Imds/latest/api/token" -TimeoutSec 5 `
        -Headers @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '21600' }
    $imdsHeaders = @{ 'X-aws-ec2-metadata-token' = $imdsToken }
    $instanceId = Invoke-RestMethod -Uri "$Imds/latest/meta-data/instance-id" -Headers $imdsHeaders -TimeoutSec 5
    $name = "$AgentNamePrefix$instanceId"

    # The job user: local, not an administrator, a password nobody knows. Refused IMDS before it runs.
    Add-Type -AssemblyName System.Web
    $password = ConvertTo-SecureString ([System.Web.Security.Membership]::GeneratePassword(32, 8)) -AsPlainText -Force
    $user = New-LocalUser -Name $JobUser -Password $password -PasswordNeverExpires -AccountNeverExpires
    $credential = New-Object System.Management.Automation.PSCredential ($JobUser, $password)
    $sddl = "D:(A;;CC;;;$($user.SID.Value))"
    New-NetFirewallRule -DisplayName 'adoscale: job user away from IMDS' -Direction Outbound -Action Block `
        -RemoteAddress 169.254.169.254 -LocalUser $sddl | Out-Null

    if ($PatSecretArn) {
        $pat = (Get-SECSecretValue -SecretId $PatSecretArn).SecretString
    } elseif ($PatParameterName) {
        $pat = (Get-SSMParameter -Name $PatParameterName -WithDecryption $true).Value
    } else {
        throw 'no PAT source: set pat_secret_arn or pat_parameter_name'
    }
    if (-not $pat) { throw 'the PAT is empty' }

    # The job user may read and write the agent's work folder, and only read the rest.
    icacls $AgentDir /grant "$($JobUser):(OI)(CI)RX" | Out-Null
    New-Item -ItemType Directory -Force -Path "$AgentDir\_work", "$AgentDir\_diag" | Out-Null
    icacls "$AgentDir\_work" /grant "$($JobUser):(OI)(CI)M" | Out-Null
    icacls "$AgentDir\_diag" /grant "$($JobUser):(OI)(CI)M" | Out-Null

    Set-Location $AgentDir
    Write-Log "instance $instanceId`: agent $name, pool $Pool, one job"
    # The PAT reaches config.cmd through its VSTS_AGENT_INPUT_TOKEN variable, never argv; set for that call only.
    $env:VSTS_AGENT_INPUT_TOKEN = $pat
    try {
        & .\config.cmd --unattended --replace --acceptTeeEula --url $AdoUrl --auth pat --pool $Pool `
            --agent $name --work _work
        if ($LASTEXITCODE -ne 0) { throw "registration failed (config.cmd exit $LASTEXITCODE)" }
    } finally {
        Remove-Item Env:\VSTS_AGENT_INPUT_TOKEN -ErrorAction SilentlyContinue
    }

    Write-Log 'running one job'
    $agent = Start-Process -FilePath "$AgentDir\run.cmd" -ArgumentList '--once' -Credential $credential `
        -WorkingDirectory $AgentDir -PassThru -NoNewWindow
    while (-not $agent.HasExited) {
        try {
            $action = Invoke-RestMethod -Uri "$Imds/latest/meta-data/spot/instance-action" -Headers $imdsHeaders `
                -TimeoutSec 2
            Write-Log "Spot interruption notice ($action): stopping the job"
            & taskkill.exe /PID $agent.Id /T /F | Out-Null
            break
        } catch {
            Start-Sleep -Seconds 5  # 404 until EC2 schedules an interruption
        }
    }
    $agent.WaitForExit()
    $exitCode = $agent.ExitCode
} catch {
    Write-Log "$($_.Exception.Message)"
} finally {
    if ($pat -and (Test-Path "$AgentDir\.agent")) {
        $env:VSTS_AGENT_INPUT_TOKEN = $pat
        try {
            & .\config.cmd remove --unattended --auth pat
            Write-Log "registration of $name removed"
        } catch {
            Write-Log 'removing the registration failed: the controller deletes the offline registration later'
        } finally {
            Remove-Item Env:\VSTS_AGENT_INPUT_TOKEN -ErrorAction SilentlyContinue
        }
    }
    $pat = $null
    Write-Log "shutting down (agent exit code $exitCode)"
    Stop-Computer -Force
}
