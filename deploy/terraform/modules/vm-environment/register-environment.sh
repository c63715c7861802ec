#!/usr/bin/env bash
# shellcheck disable=SC2154  # the lowercase template variables are filled by Terraform or the caller
# EC2 user data: register this instance as a VM resource of an Azure DevOps Environment.
#
# Terraform renders this file with templatefile(): the assignments below receive the module's values.
# Left empty, each falls back to the instance's tags (adoscale:project, adoscale:environment,
# adoscale:vm-tags), read through IMDSv2 only. Run as-is (not rendered), the assignments read lowercase
# environment variables of the same names, which is how the tests drive it.
#
# Template rule: below the assignments this script writes variables as $NAME, never with braces, because
# templatefile() would try to interpret a dollar-brace sequence.
#
# What the AMI must have: bash, curl, tar, gzip, the AWS CLI v2 (for the PAT), systemd, and dnf, yum or
# apt-get (to install the agent's own dependencies and iptables when missing). Amazon Linux 2023, the
# module's default image on x86_64 and arm64, has all of them.
#
# The PAT stays out of the deployment jobs' reach: the agent service (and so every job) runs as the
# unprivileged agent_user (default azagent), which is refused the instance metadata service by an iptables
# rule installed before the service starts and again at every boot; without IMDS it has no credentials of
# the instance's role, so it cannot read the secret. The PAT itself lives only in this root script and in
# config.sh's environment, and is never written down. Deregistration is the lifecycle Lambda's job.
set -eo pipefail

# Template variables, filled by Terraform (see the header).
ADO_URL="${ado_url}"
PROJECT="${project}"
ENVIRONMENT="${environment}"
VM_TAGS="${vm_tags}"
PAT_SECRET_ARN="${pat_secret_arn}"
PAT_PARAMETER_NAME="${pat_parameter_name}"
AGENT_VERSION="${agent_version}"
AGENT_ARCH="${agent_arch}"
AGENT_DOWNLOAD_URL="${agent_download_url}"
AGENT_USER="${agent_user}"
AGENT_DIR="${agent_dir}"
IMDS="${imds_endpoint}"
SYSTEMD_DIR="$ADOSCALE_SYSTEMD_DIR"  # tests only; /etc/systemd/system when empty
set -u  # only now: run as-is, the assignments above read variables that may be unset

log() { printf 'adoscale-vm: %s\n' "$*" >&2; }
die() { log "$1"; exit "$2"; }

if [ -z "$IMDS" ]; then IMDS="http://169.254.169.254"; fi
if [ -z "$AGENT_DIR" ]; then AGENT_DIR="/opt/azagent"; fi
if [ -z "$AGENT_USER" ]; then AGENT_USER="azagent"; fi
if [ -z "$SYSTEMD_DIR" ]; then SYSTEMD_DIR="/etc/systemd/system"; fi
if [ "$AGENT_USER" = "root" ]; then die "agent_user root would let every deployment job read the PAT" 2; fi
if [ -z "$AGENT_ARCH" ]; then
  case "$(uname -m)" in aarch64 | arm64) AGENT_ARCH="arm64" ;; *) AGENT_ARCH="x64" ;; esac
fi

imds_token=$(curl -fsS --max-time 5 -X PUT "$IMDS/latest/api/token" \
  -H "X-aws-ec2-metadata-token-ttl-seconds: 300") || die "IMDSv2 is not reachable at $IMDS" 1

metadata() {
  curl -fsS --max-time 5 -H "X-aws-ec2-metadata-token: $imds_token" "$IMDS/latest/meta-data/$1"
}

tag() {
  # Instance tags in metadata need instance_metadata_tags = "enabled" on the launch template.
  metadata "tags/instance/$1" 2>/dev/null || true
}

INSTANCE_ID=$(metadata instance-id) || die "cannot read the instance id from IMDSv2" 1
if [ -z "$PROJECT" ]; then PROJECT=$(tag adoscale:project); fi
if [ -z "$ENVIRONMENT" ]; then ENVIRONMENT=$(tag adoscale:environment); fi
if [ -z "$VM_TAGS" ]; then VM_TAGS=$(tag adoscale:vm-tags); fi

if [ -z "$ADO_URL" ]; then die "no Azure DevOps URL: set ado_url in the launch template" 2; fi
if [ -z "$PROJECT" ]; then die "no project: set project, or tag the instance adoscale:project" 2; fi
if [ -z "$ENVIRONMENT" ]; then die "no Environment: set environment, or tag the instance adoscale:environment" 2; fi
if [ -z "$AGENT_VERSION" ]; then die "no agent version: set agent_version" 2; fi

if [ -n "$PAT_SECRET_ARN" ]; then
  pat=$(aws secretsmanager get-secret-value --secret-id "$PAT_SECRET_ARN" --query SecretString --output text) \
    || die "cannot read the PAT from Secrets Manager ($PAT_SECRET_ARN)" 1
elif [ -n "$PAT_PARAMETER_NAME" ]; then
  pat=$(aws ssm get-parameter --name "$PAT_PARAMETER_NAME" --with-decryption \
    --query Parameter.Value --output text) || die "cannot read the PAT from SSM ($PAT_PARAMETER_NAME)" 1
else
  die "no PAT source: set pat_secret_arn or pat_parameter_name" 2
fi
if [ -z "$pat" ]; then die "the PAT is empty" 1; fi

if [ -z "$AGENT_DOWNLOAD_URL" ]; then
  AGENT_DOWNLOAD_URL="https://download.agent.dev.azure.com/agent/$AGENT_VERSION/vsts-agent-linux-$AGENT_ARCH-$AGENT_VERSION.tar.gz"
fi
mkdir -p "$AGENT_DIR"
cd "$AGENT_DIR"
if [ ! -x ./config.sh ]; then
  log "downloading agent $AGENT_VERSION"
  curl -fsSL --retry 5 -o agent.tar.gz "$AGENT_DOWNLOAD_URL" || die "cannot download the agent" 1
  tar -xzf agent.tar.gz
  rm -f agent.tar.gz
fi

install_packages() {
  if command -v dnf >/dev/null; then dnf install -y "$@"
  elif command -v yum >/dev/null; then yum install -y "$@"
  elif command -v apt-get >/dev/null; then apt-get update -q && apt-get install -y "$@"
  else return 1
  fi
}

# The agent's own dependencies (ICU, Kerberos, ...), by the script the agent ships for each distribution.
if [ -x ./bin/installdependencies.sh ]; then
  ./bin/installdependencies.sh >/dev/null || die "the agent's dependencies could not be installed" 1
fi

if ! getent passwd "$AGENT_USER" >/dev/null; then
  useradd --system --create-home --shell /sbin/nologin "$AGENT_USER" || die "cannot create user $AGENT_USER" 1
fi

# Refuse the agent user the metadata service (IPv4 and IPv6), now and at every boot, before the agent runs.
if ! command -v iptables >/dev/null; then
  install_packages iptables-nft >/dev/null 2>&1 || install_packages iptables >/dev/null 2>&1 \
    || die "iptables is missing and cannot be installed: the agent user must be kept away from IMDS" 1
fi
guard="iptables -w -I OUTPUT -d 169.254.169.254 -m owner --uid-owner $AGENT_USER -j REJECT"
$guard || die "cannot install the IMDS guard for $AGENT_USER" 1
cat > "$SYSTEMD_DIR/adoscale-imds-guard.service" <<UNIT
[Unit]
Description=adoscale: keep $AGENT_USER (deployment jobs) away from the instance metadata service
Before=network-online.target
[Service]
Type=oneshot
ExecStart=/bin/sh -c '$guard'
[Install]
WantedBy=multi-user.target
UNIT
systemctl enable adoscale-imds-guard.service >/dev/null 2>&1 || die "cannot enable the IMDS guard at boot" 1

# Positional parameters carry the optional tag flags: an array would need a dollar-brace expansion.
set --
if [ -n "$VM_TAGS" ]; then
  set -- --addvirtualmachineresourcetags --virtualmachineresourcetags "$VM_TAGS"
fi

log "registering $INSTANCE_ID in Environment $ENVIRONMENT of project $PROJECT"
# The PAT reaches config.sh through its VSTS_AGENT_INPUT_ variable, never argv; it is never written down.
AGENT_ALLOW_RUNASROOT=1 VSTS_AGENT_INPUT_TOKEN="$pat" ./config.sh --environment \
  --environmentname "$ENVIRONMENT" --projectname "$PROJECT" "$@" \
  --agent "$INSTANCE_ID" --url "$ADO_URL" --auth pat --work _work \
  --runasservice --unattended --replace --acceptteeeula \
  || die "registration failed" 1
unset pat
# The agent's configuration (its own key, never the PAT) belongs to the agent user, who runs it.
chown -R "$AGENT_USER" "$AGENT_DIR"

./svc.sh install "$AGENT_USER"
./svc.sh start
log "registered $INSTANCE_ID; the agent runs as a service"
