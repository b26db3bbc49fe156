#!/usr/bin/env bash
# Build every image of the system from deploy/docker/Dockerfile with BuildKit:
#   resque-py/{enqueuer,worker,frontend,scheduler,redis}:$VERSION
# Environment:
#   VERSION       image tag (default: the repository's VERSION file; never "latest")
#   PYTHON_IMAGE  base for the Python images (default: the Dockerfile's, the official one)
#   REDIS_IMAGE   base for the Redis image  (default: the Dockerfile's, the official one)
#   CA_FILE       CA bundle passed as the BuildKit secret "ca" for TLS-intercepting
#                 proxies (default: the host's bundle when present; never baked in)
#   TARGETS       subset to build (default: "redis enqueuer worker frontend scheduler")
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=${VERSION:-$(cat VERSION)}
TARGETS=${TARGETS:-redis enqueuer worker frontend scheduler}
CA_FILE=${CA_FILE-/etc/ssl/certs/ca-certificates.crt}
# BuildKit without buildx: the classic docker CLI (Debian's docker.io) has it
# built in; a newer CLI without the buildx plugin refuses DOCKER_BUILDKIT=1.
if [[ -z "${DOCKER_BUILD_CLI:-}" ]]; then
    DOCKER_BUILD_CLI=docker
    if ! docker buildx version >/dev/null 2>&1 && [[ -x /usr/bin/docker ]]; then
        DOCKER_BUILD_CLI=/usr/bin/docker
    fi
fi

args=(--network host --file deploy/docker/Dockerfile)
[[ -n "${PYTHON_IMAGE:-}" ]] && args+=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
[[ -n "${REDIS_IMAGE:-}" ]] && args+=(--build-arg "REDIS_IMAGE=$REDIS_IMAGE")
[[ -n "$CA_FILE" && -r "$CA_FILE" ]] && args+=(--secret "id=ca,src=$CA_FILE")
[[ -n "${QUIET:-}" ]] && args+=(--quiet)

for target in $TARGETS; do
    echo "building resque-py/$target:$VERSION"
    DOCKER_BUILDKIT=1 "$DOCKER_BUILD_CLI" build "${args[@]}" \
        --target "$target" --tag "resque-py/$target:$VERSION" .
done
