#!/usr/bin/env bash
# Bake an adoscale EC2 agent image (docs/ec2.md): run as root on a fresh Amazon Linux 2023 instance, then
# create an AMI from it (`aws ec2 create-image`). Reproducible from its inputs: the agent version and
# checksum, and the distribution's packages of the day (pin them with a dnf release version for more).
#
# What the ec2-pool module's boot script expects, all in the image so that boot to agent-ready is short:
# - the agent extracted in /opt/azagent (with its .NET dependencies), owned by root;
# - adoscale's entrypoint (agent/entrypoint.sh) at /opt/adoscale/entrypoint.sh;
# - Docker, its socket's group the job user's group (gid 10001): setpriv drops supplementary groups, so
#   the job user reaches Docker through its primary group;
# - the AWS CLI v2, iptables, curl and setpriv (util-linux).
#
# Usage: bake-linux.sh AGENT_VERSION AGENT_SHA256 [ENTRYPOINT]
#   ENTRYPOINT defaults to ./entrypoint.sh (copy agent/entrypoint.sh next to this script).
set -euo pipefail

log() { printf 'adoscale-bake: %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-1}"; }

[[ $# -ge 2 ]] || die "usage: bake-linux.sh AGENT_VERSION AGENT_SHA256 [ENTRYPOINT]" 2
version=$1 sha256=$2 entrypoint=${3:-./entrypoint.sh}
[[ -r "$entrypoint" ]] || die "cannot read the entrypoint at $entrypoint (agent/entrypoint.sh)" 2
[[ $EUID -eq 0 ]] || die "run as root" 2
case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=x64 ;; esac

dnf install -y docker iptables-nft util-linux curl tar gzip awscli-2 >/dev/null

# The job's and the registering user: no login, no home outside the agent's work folder.
groupadd --gid 10001 azjob
useradd --uid 10001 --gid 10001 --no-create-home --shell /sbin/nologin azjob
useradd --uid 10002 --gid 10001 --no-create-home --shell /sbin/nologin azregister
mkdir -p /etc/docker
printf '{\n  "group": "azjob"\n}\n' > /etc/docker/daemon.json
systemctl enable docker >/dev/null

url="https://download.agent.dev.azure.com/agent/$version/vsts-agent-linux-$arch-$version.tar.gz"
log "agent $version ($arch)"
curl -fsSL --retry 5 -o /tmp/agent.tar.gz "$url"
echo "$sha256  /tmp/agent.tar.gz" | sha256sum -c - >/dev/null || die "the agent download does not match $sha256" 1
mkdir -p /opt/azagent
tar -xzf /tmp/agent.tar.gz -C /opt/azagent
rm -f /tmp/agent.tar.gz
/opt/azagent/bin/installdependencies.sh >/dev/null

install -D -m 0755 "$entrypoint" /opt/adoscale/entrypoint.sh

# Nothing of this instance's own may go into the image: its cloud-init state and its logs.
cloud-init clean --logs
log "baked: create an AMI from this instance"
