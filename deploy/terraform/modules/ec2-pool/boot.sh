#!/usr/bin/env bash
# shellcheck disable=SC2154  # the lowercase template variables are filled by Terraform or the caller
# EC2 user data for an adoscale EC2 pool: this instance runs one Azure Pipelines job, then powers off, and
# the launch template's InstanceInitiatedShutdownBehavior=terminate makes the power-off a termination.
#
# The life (docs/ec2.md): read the instance id through IMDSv2 (the agent's name, so the controller pairs
# agent and instance by name); close the instance metadata service to the job's and the registering user
# (iptables, by uid); read the PAT with the instance role; run the image's agent entrypoint
# (agent/entrypoint.sh, baked in at /opt/adoscale/entrypoint.sh), which registers, runs one job
# (run.sh --once) and removes the registration, also when stopped; power off. A Spot interruption notice
# (IMDS spot/instance-action, two minutes ahead) and a shutdown from outside (SIGTERM) reach the agent as
# a stop: the listener cancels its job and the registration is removed before the instance goes.
#
# Terraform renders this file with templatefile(); below the assignments the script writes variables as
# $NAME, never with braces (templatefile would read a dollar-brace sequence). Run as-is (not rendered),
# the assignments read lowercase environment variables of the same names, which is how the tests drive it.
#
# The PAT (docs/ec2.md, "The PAT"): it lives in this root script's memory and in the entrypoint's
# environment (root's), and reaches config.sh as the registering user; job steps run as AZP_JOB_USER, which
# cannot read another user's /proc/<pid>/environ and is refused IMDS, so it has no role credentials to read
# the secret with. A job that may use the Docker daemon is root-equivalent on its instance and can undo
# both: give such pools a PAT scoped to Agent Pools (read & manage) only, as every pool's should be.
set -eo pipefail

# Template variables, filled by Terraform (see the header).
ADO_URL="${ado_url}"
POOL="${pool}"
PAT_SECRET_ARN="${pat_secret_arn}"
PAT_PARAMETER_NAME="${pat_parameter_name}"
AGENT_NAME_PREFIX="${agent_name_prefix}"
AGENT_DIR="${agent_dir}"
ENTRYPOINT="${entrypoint}"
JOB_USER="${job_user}"
REGISTER_USER="${register_user}"
STOP_GRACE_SECONDS="${stop_grace_seconds}"
IMDS="${imds_endpoint}"
POWEROFF="${poweroff_command}"
SPOT_POLL_SECONDS="${spot_poll_seconds}"
set -u  # only now: run as-is, the assignments above read variables that may be unset

log() { printf 'adoscale-ec2: %s\n' "$*" >&2; }

if [ -z "$IMDS" ]; then IMDS="http://169.254.169.254"; fi
if [ -z "$AGENT_DIR" ]; then AGENT_DIR="/opt/azagent"; fi
if [ -z "$ENTRYPOINT" ]; then ENTRYPOINT="/opt/adoscale/entrypoint.sh"; fi
if [ -z "$JOB_USER" ]; then JOB_USER="10001:10001"; fi
if [ -z "$REGISTER_USER" ]; then REGISTER_USER="10002"; fi
if [ -z "$STOP_GRACE_SECONDS" ]; then STOP_GRACE_SECONDS="90"; fi  # within the 120 s of a Spot notice
if [ -z "$POWEROFF" ]; then POWEROFF="systemctl poweroff"; fi
if [ -z "$SPOT_POLL_SECONDS" ]; then SPOT_POLL_SECONDS="5"; fi

# Whatever happens from here on, the instance powers off: a half-started agent must not linger and cost.
status=1
# shellcheck disable=SC2329  # called by the EXIT trap
power_off() {
  log "powering off (agent exit status $status)"
  $POWEROFF || log "power-off failed: the controller terminates the instance once its start-up times out"
}
fail() {
  log "$1"
  status=$2
  exit "$2"
}
trap power_off EXIT

case "$JOB_USER" in
  0:* | *:0) fail "job_user must not be root: every job step could read the PAT" 2 ;;
esac
job_uid=$(printf '%s' "$JOB_USER" | cut -d: -f1)
if [ -z "$ADO_URL" ]; then fail "no Azure DevOps URL: set ado_url in the launch template" 2; fi
if [ -z "$POOL" ]; then fail "no agent pool: set pool in the launch template" 2; fi

imds_token=$(curl -fsS --max-time 5 -X PUT "$IMDS/latest/api/token" \
  -H "X-aws-ec2-metadata-token-ttl-seconds: 21600") || fail "IMDSv2 is not reachable at $IMDS" 1
metadata() {
  curl -fsS --max-time 5 -H "X-aws-ec2-metadata-token: $imds_token" "$IMDS/latest/meta-data/$1"
}
instance_id=$(metadata instance-id) || fail "cannot read the instance id from IMDSv2" 1
name="$AGENT_NAME_PREFIX$instance_id"

# The job's and the registering user are refused the metadata service before either runs anything: without
# it they have no credentials of the instance role, so they cannot read the PAT's secret.
for uid in "$job_uid" "$REGISTER_USER"; do
  iptables -w -I OUTPUT -d 169.254.169.254 -m owner --uid-owner "$uid" -j REJECT \
    || fail "cannot keep uid $uid away from the instance metadata service (iptables)" 1
done

if [ -n "$PAT_SECRET_ARN" ]; then
  pat=$(aws secretsmanager get-secret-value --secret-id "$PAT_SECRET_ARN" --query SecretString --output text) \
    || fail "cannot read the PAT from Secrets Manager ($PAT_SECRET_ARN)" 1
elif [ -n "$PAT_PARAMETER_NAME" ]; then
  pat=$(aws ssm get-parameter --name "$PAT_PARAMETER_NAME" --with-decryption \
    --query Parameter.Value --output text) || fail "cannot read the PAT from SSM ($PAT_PARAMETER_NAME)" 1
else
  fail "no PAT source: set pat_secret_arn or pat_parameter_name" 2
fi
if [ -z "$pat" ]; then fail "the PAT is empty" 1; fi

log "instance $instance_id: agent $name, pool $POOL, one job"
# The PAT reaches the entrypoint in its own environment only (it unsets it at once and hands it to
# config.sh alone); it is never an argument and never written down.
AZP_TOKEN="$pat" AZP_URL="$ADO_URL" AZP_POOL="$POOL" AZP_AGENT_NAME="$name" AZP_AGENT_DIR="$AGENT_DIR" \
  AZP_JOB_USER="$JOB_USER" AZP_REGISTER_USER="$REGISTER_USER" AZP_STOP_GRACE_SECONDS="$STOP_GRACE_SECONDS" \
  "$ENTRYPOINT" &
agent=$!
unset pat

# A stop from outside (shutdown, cloud-init stopping) is passed on to the agent, which removes itself.
# shellcheck disable=SC2329  # called by the traps below
stop_agent() {
  log "$1: stopping the agent"
  kill -TERM "$agent" 2>/dev/null || true
}
trap 'stop_agent SIGTERM' TERM
trap 'stop_agent SIGINT' INT

# The Spot two-minute notice: spot/instance-action answers 404 until EC2 schedules the interruption.
watch_spot() {
  while sleep "$SPOT_POLL_SECONDS"; do
    if action=$(metadata spot/instance-action 2>/dev/null); then
      log "Spot interruption notice ($action): stopping the agent"
      kill -TERM "$agent" 2>/dev/null || true
      return 0
    fi
  done
}
watch_spot &
watcher=$!

# wait returns early when a trapped signal arrives: wait again until the agent itself has exited, then
# once more for its exit status (bash keeps it for a finished background job).
while kill -0 "$agent" 2>/dev/null; do
  wait "$agent" || true
done
status=0
wait "$agent" || status=$?
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
exit "$status"
