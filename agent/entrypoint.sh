#!/usr/bin/env bash
# adoscale's ephemeral Azure Pipelines agent for ECS Fargate.
#
# Registers under the ECS task id (so the controller pairs agent and task by name), runs exactly one job
# (run.sh --once), and removes its registration on exit and on SIGTERM/SIGINT (Fargate stop, Spot
# interruption). With --placeholder it only registers and exits, leaving the pool's placeholder agent.
#
# The token reaches config.sh through VSTS_AGENT_INPUT_TOKEN in that one process's environment, never
# through argv (visible in ps) and never in the environment of run.sh (job steps would inherit it).
set -euo pipefail

log() { printf 'adoscale-agent: %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-1}"; }

usage() {
  cat <<'USAGE'
usage: entrypoint.sh [--placeholder]
  Environment: AZP_URL, AZP_POOL, AZP_TOKEN or AZP_TOKEN_FILE (required); AZP_AGENT_DIR (default
  /azp/agent), AZP_AGENT_NAME_PREFIX, AZP_AGENT_NAME, AZP_WORK (default _work),
  AZP_REMOVE_ATTEMPTS (default 5), AZP_STOP_GRACE_SECONDS (default 5).
  --placeholder  register the agent and exit, to keep the pool open while it is at zero
USAGE
}

placeholder=false
for arg in "$@"; do
  case "$arg" in
    --placeholder) placeholder=true ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" 2 ;;
  esac
done

[[ -n "${AZP_URL:-}" ]] || die "AZP_URL is not set: the organization URL, e.g. https://dev.azure.com/contoso" 2
[[ -n "${AZP_POOL:-}" ]] || die "AZP_POOL is not set: the agent pool to join" 2
if [[ -n "${AZP_TOKEN_FILE:-}" ]]; then
  [[ -r "$AZP_TOKEN_FILE" ]] || die "AZP_TOKEN_FILE is set but $AZP_TOKEN_FILE cannot be read" 2
  token=$(<"$AZP_TOKEN_FILE")
elif [[ -n "${AZP_TOKEN:-}" ]]; then
  token=$AZP_TOKEN
else
  die "AZP_TOKEN is not set (nor AZP_TOKEN_FILE): a PAT with Agent Pools (read & manage)" 2
fi
unset AZP_TOKEN VSTS_AGENT_INPUT_TOKEN

agent_dir=${AZP_AGENT_DIR:-/azp/agent}
work_dir=${AZP_WORK:-_work}
prefix=${AZP_AGENT_NAME_PREFIX:-}
[[ -x "$agent_dir/config.sh" ]] || die "no agent in $agent_dir (config.sh missing): is AZP_AGENT_DIR right?" 2

task_id() {
  # The ECS task metadata endpoint v4: .../task answers JSON with TaskARN; the id is its last segment.
  local body arn
  body=$(curl -fsS --max-time 5 "$ECS_CONTAINER_METADATA_URI_V4/task") || return 1
  arn=$(printf '%s' "$body" | sed -n 's/.*"TaskARN"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
  [[ -n "$arn" ]] || return 1
  printf '%s\n' "${arn##*/}"
}

if [[ -n "${AZP_AGENT_NAME:-}" ]]; then
  name=$AZP_AGENT_NAME
elif $placeholder; then
  name="${prefix}adoscale-placeholder"
elif [[ -n "${ECS_CONTAINER_METADATA_URI_V4:-}" ]]; then
  id=$(task_id) || die "cannot read the task id from \$ECS_CONTAINER_METADATA_URI_V4/task" 1
  name="${prefix}${id}"
else
  name="${prefix}$(hostname)"
  log "not on ECS (no ECS_CONTAINER_METADATA_URI_V4): naming the agent after the host, $name"
fi

cd "$agent_dir"

configure() {
  log "registering agent $name in pool $AZP_POOL"
  VSTS_AGENT_INPUT_TOKEN="$token" ./config.sh --unattended --replace --acceptTeeEula \
    --url "$AZP_URL" --auth pat --pool "$AZP_POOL" --agent "$name" --work "$work_dir"
}

removed=false
remove_registration() {
  $removed && return 0
  local attempt attempts=${AZP_REMOVE_ATTEMPTS:-5}
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    if VSTS_AGENT_INPUT_TOKEN="$token" ./config.sh remove --unattended --auth pat; then
      removed=true
      log "registration of $name removed"
      return 0
    fi
    log "removing the registration failed (attempt $attempt of $attempts)"
    ((attempt < attempts)) && sleep "$attempt"
  done
  log "giving up: the controller deletes the offline registration of $name later"
  return 1
}

child=""
# shellcheck disable=SC2329  # called by the traps below
terminate() {
  local signal=$1 status=$2
  log "received $signal: stopping the agent and removing its registration"
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    local waited
    for ((waited = 0; waited < ${AZP_STOP_GRACE_SECONDS:-5}; waited++)); do
      kill -0 "$child" 2>/dev/null || break
      sleep 1
    done
    kill -KILL "$child" 2>/dev/null || true
  fi
  remove_registration || true
  exit "$status"
}

if $placeholder; then
  configure
  log "placeholder $name registered; it stays offline and keeps the pool open at zero"
  exit 0
fi

trap 'terminate SIGTERM 143' TERM
trap 'terminate SIGINT 130' INT
configure
log "running one job"
./run.sh --once &
child=$!
status=0
wait "$child" || status=$?
child=""
remove_registration || true
exit "$status"
