#!/usr/bin/env bash
# Build the agent image (agent/Dockerfile) for Fargate's architectures with docker buildx and push it to
# the ECR repository made by the container-pool module, tagged with the agent version: the repository is
# IMMUTABLE, so every build gets a new tag and the task definition names it (image_tag).
#
#   scripts/build-agent-image.sh --repository "$(terraform output -raw ecr_repository_url)"
#
# One tag holds both architectures (a multi-platform manifest), so cpu_architecture X86_64 and ARM64
# (Graviton, cheaper) both run it. Needs docker with buildx (and QEMU/binfmt or native builders for the
# other architecture), and the AWS CLI for the ECR login.
set -euo pipefail

log() { printf 'build-agent-image: %s\n' "$*" >&2; }
die() { log "$1"; exit "${2:-1}"; }

usage() {
  cat <<'USAGE'
usage: build-agent-image.sh --repository URL [options]
  --repository URL    ECR repository (terraform output ecr_repository_url), or any registry/name
  --version V         Azure Pipelines agent version (default: AGENT_VERSION in agent/Dockerfile)
  --tag T             image tag (default: the version; use e.g. 4.258.1-2 to rebuild the same version)
  --platforms LIST    default linux/amd64,linux/arm64
  --load              build one platform into the local docker instead of pushing (no login)
  --region R          AWS region of the ECR login (default: from the repository URL)
USAGE
}

here=$(cd "$(dirname "$0")/.." && pwd)
context="$here/agent"
repository="" version="" tag="" platforms="linux/amd64,linux/arm64" mode="--push" region=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repository) repository=${2:-}; shift 2 ;;
    --version) version=${2:-}; shift 2 ;;
    --tag) tag=${2:-}; shift 2 ;;
    --platforms) platforms=${2:-}; shift 2 ;;
    --load) mode="--load"; shift ;;
    --region) region=${2:-}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" 2 ;;
  esac
done

[[ -n "$repository" ]] || { usage >&2; die "--repository is required (terraform output ecr_repository_url)" 2; }
[[ "$repository" != *:* || "$repository" == *:[0-9]*/* ]] || die "--repository takes no tag: $repository (use --tag)" 2
if [[ -z "$version" ]]; then
  version=$(sed -n 's/^ARG AGENT_VERSION=\(.*\)$/\1/p' "$context/Dockerfile")
  [[ -n "$version" ]] || die "cannot read AGENT_VERSION from $context/Dockerfile; pass --version" 2
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--version must look like 4.258.1, not $version" 2
tag=${tag:-$version}
[[ "$tag" != "latest" ]] || die "--tag latest cannot be pushed twice to an IMMUTABLE repository: use a version" 2
for platform in ${platforms//,/ }; do
  case "$platform" in linux/amd64 | linux/arm64) ;; *) die "unsupported platform $platform (linux/amd64, linux/arm64)" 2 ;; esac
done
if [[ "$mode" == "--load" && "$platforms" == *,* ]]; then
  die "--load takes one platform (docker cannot load a multi-platform image): add --platforms linux/amd64" 2
fi

command -v docker >/dev/null || die "docker is required" 2
docker buildx version >/dev/null 2>&1 || die "docker buildx is required (Docker 23+ ships it)" 2

registry=${repository%%/*}
if [[ "$mode" == "--push" && "$registry" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$ ]]; then
  region=${region:-${BASH_REMATCH[1]}}
  command -v aws >/dev/null || die "the AWS CLI is required for the ECR login" 2
  log "logging in to $registry"
  # The password travels through a pipe, never argv.
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry" >/dev/null \
    || die "docker login to $registry failed" 1
fi

image="$repository:$tag"
log "building $image for $platforms (agent $version)"
docker buildx build --platform "$platforms" --build-arg "AGENT_VERSION=$version" \
  --label "org.opencontainers.image.version=$version" --tag "$image" "$mode" "$context"
printf '%s\n' "$image"
