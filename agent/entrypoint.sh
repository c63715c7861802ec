#!/usr/bin/env bash
# adoscale's ephemeral Azure Pipelines agent for ECS Fargate.
#
# Registers under the ECS task id (so the controller pairs agent and task by name), runs exactly one job
# (run.sh --once), and removes its registration on exit and on SIGTERM/SIGINT (Fargate stop, Spot
# interruption). With --placeholder it only registers and exits, leaving the pool's placeholder agent.
#
# Signals: Microsoft's run.sh starts bin/Agent.Listener as a child and neither traps nor forwards SIGTERM,
# so signalling run.sh alone orphans the listener (the job is abandoned, not cancelled, and the service
# refuses to remove an agent that is running a job). run.sh therefore runs in a process group of its own
# (setsid), and a stop signals that whole group: the listener gets SIGTERM and cancels its job. The
# registration is removed only once every process of the group has exited (or been killed after
# AZP_STOP_GRACE_SECONDS), so the removal is not refused and the agent is not removed while connected.
#
# Exit status: 0 when the agent ran its one job, whatever the job's result (the listener exits 0 after a
# --once job; the result is in Azure DevOps); 143/130 when stopped by SIGTERM/SIGINT; 2 for a usage or
# configuration error (a missing variable); otherwise the failing step's status (config.sh, the listener).
#
# The token reaches config.sh through VSTS_AGENT_INPUT_TOKEN in that one process's environment, never
# through argv (visible in ps) and never in the environment of run.sh (job steps would inherit it).
#
# Privilege separation (the image's default: it starts as root with AZP_JOB_USER and AZP_REGISTER_USER
# set): registration and removal run as AZP_REGISTER_USER, the agent and so every job step as
# AZP_JOB_USER. The token stays in processes the job user cannot inspect: /proc/<pid>/environ and
# /proc/<pid>/mem of another user's process are closed to it, and ECS's copy of the secret lives in the
# environment of PID 1 and of this script, both root's. The agent's own files (.agent, .credentials)
# are group-readable by the job user, as the agent needs them; they hold the agent's key, never the PAT.
set -euo pipefail

log() { printf 'adoscale-agent: %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-1}"; }

usage() {
  cat <<'USAGE'
usage: entrypoint.sh [--placeholder]
  Environment: AZP_URL, AZP_POOL, AZP_TOKEN or AZP_TOKEN_FILE (required); AZP_AGENT_DIR (default
  /azp/agent), AZP_AGENT_NAME_PREFIX, AZP_AGENT_NAME, AZP_WORK (default _work),
  AZP_REMOVE_ATTEMPTS (default 5), AZP_STOP_GRACE_SECONDS (default 90: how long a stopped agent may take
  to cancel its job before it is killed; keep it below the task's stopTimeout, 120 s, less the removal's
  few seconds); when started as root,
  AZP_JOB_USER (uid:gid the agent and its jobs run as) and AZP_REGISTER_USER (uid that registers and
  removes the agent, with the job's gid so that the agent can read its configuration).
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

# as_register and as_job run a command as the registering and the job user (or as this user when not
# separated). setpriv keeps the environment, so the callers choose what each one gets.
separated=false
if [[ -n "${AZP_JOB_USER:-}" || -n "${AZP_REGISTER_USER:-}" ]]; then
  [[ $EUID -eq 0 ]] || die "AZP_JOB_USER/AZP_REGISTER_USER need the entrypoint to start as root" 2
  [[ "${AZP_JOB_USER:-}" =~ ^([0-9]+):([0-9]+)$ ]] || die "AZP_JOB_USER must be uid:gid, e.g. 10001:10001" 2
  job_uid=${BASH_REMATCH[1]} job_gid=${BASH_REMATCH[2]}
  [[ "${AZP_REGISTER_USER:-}" =~ ^[0-9]+$ ]] || die "AZP_REGISTER_USER must be a uid, e.g. 10002" 2
  register_uid=$AZP_REGISTER_USER
  [[ $register_uid -ne $job_uid && $register_uid -ne 0 && $job_uid -ne 0 ]] \
    || die "AZP_REGISTER_USER and AZP_JOB_USER must be two different users, neither root" 2
  command -v setpriv >/dev/null || die "setpriv (util-linux) is required for AZP_JOB_USER" 2
  separated=true
  # The registering user writes the agent's configuration; the job group may read it, nobody else.
  chown "$register_uid:$job_gid" "$agent_dir"
  chmod 0750 "$agent_dir"
  for dir in "$work_dir" _diag; do
    [[ "$dir" == /* ]] || dir="$agent_dir/$dir"
    mkdir -p "$dir"
    chown -R "$job_uid:$job_gid" "$dir"
  done
  chmod 2770 "$agent_dir/_diag"  # both users write diagnostics there
  umask 0027
  if [[ -n "${AZP_TOKEN_FILE:-}" ]] && [[ $(stat -c %a "$AZP_TOKEN_FILE") =~ [1-7]$ ]]; then
    die "$AZP_TOKEN_FILE is readable by every user, the job's too: chmod 0400 it" 2
  fi
elif [[ $EUID -eq 0 ]]; then
  log "warning: running as root without AZP_JOB_USER/AZP_REGISTER_USER: job steps can read the PAT"
fi

as_register() {
  if $separated; then
    setpriv --reuid="$register_uid" --regid="$job_gid" --clear-groups --no-new-privs -- "$@"
  else
    "$@"
  fi
}

# Replaces the calling (background) shell, so that the PID in $! is the agent's and signals reach it.
exec_as_job() {
  if $separated; then
    HOME="$agent_dir/$work_dir" exec setpriv --reuid="$job_uid" --regid="$job_gid" --clear-groups --no-new-privs -- "$@"
  fi
  exec "$@"
}

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
  VSTS_AGENT_INPUT_TOKEN="$token" as_register ./config.sh --unattended --replace --acceptTeeEula \
    --url "$AZP_URL" --auth pat --pool "$AZP_POOL" --agent "$name" --work "$work_dir"
  # The agent's key is written 0600 by config.sh; the agent (the job user) must read it. Everything else
  # stays the registering user's, read-only to jobs: a job that could rewrite .agent could point the
  # later `config.sh remove`, and the PAT it sends, at a server of its choosing.
  if $separated && [[ -e .credentials_rsaparams ]]; then
    chown "$job_uid:$job_gid" .credentials_rsaparams
  fi
}

removed=false
remove_registration() {
  $removed && return 0
  local attempt attempts=${AZP_REMOVE_ATTEMPTS:-5}
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    if VSTS_AGENT_INPUT_TOKEN="$token" as_register ./config.sh remove --unattended --auth pat; then
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

child=""  # run.sh's pid, which is also its process group's id (setsid)
# shellcheck disable=SC2329  # called by the traps below
terminate() {
  local signal=$1 status=$2
  log "received $signal: stopping the agent and removing its registration"
  if [[ -n "$child" ]] && kill -0 -- "-$child" 2>/dev/null; then
    # The whole group: run.sh would not pass the signal on to the listener.
    kill -TERM -- "-$child" 2>/dev/null || true
    local waited
    for ((waited = 0; waited < ${AZP_STOP_GRACE_SECONDS:-90} * 10; waited++)); do
      kill -0 -- "-$child" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 -- "-$child" 2>/dev/null; then
      log "the agent did not stop within ${AZP_STOP_GRACE_SECONDS:-90} s: killing it"
      kill -KILL -- "-$child" 2>/dev/null || true
    fi
    wait "$child" 2>/dev/null || true
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
# setsid: run.sh leads a process group of its own (a background job is not a group leader, so setsid
# calls setsid() and execs in place: $! is run.sh's pid and its group's id).
exec_as_job setsid ./run.sh --once &
child=$!
status=0
wait "$child" || status=$?
child=""
remove_registration || true
exit "$status"
