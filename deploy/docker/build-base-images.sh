#!/usr/bin/env bash
# Build the local base images the service Dockerfiles can use instead of the
# official ones, without any container registry: debootstrap a minimal Debian
# bookworm from the host's apt mirror, then `docker import` it.
#
#   resque-py/python-base:bookworm  python3 + python3-venv + tini
#   resque-py/redis-base:bookworm   redis-server
#
# Idempotent: an image that already exists is left alone (FORCE=1 rebuilds).
# Needs root (debootstrap) and a reachable Docker engine.
set -euo pipefail

SUITE=bookworm
PYTHON_IMAGE=${PYTHON_BASE_IMAGE:-resque-py/python-base:$SUITE}
REDIS_IMAGE=${REDIS_BASE_IMAGE:-resque-py/redis-base:$SUITE}
DOCKER=${DOCKER:-docker}

# The first URIs: line of the host's deb822 sources, else sources.list, else Debian's CDN.
host_mirror() {
    local uri=""
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [[ -z "$uri" && -r /etc/apt/sources.list ]]; then
        uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# build_image NAME PACKAGES CMD: debootstrap, slim down, import with a default CMD.
build_image() {
    local name=$1 packages=$2 cmd=$3
    if [[ -z "${FORCE:-}" ]] && image_exists "$name"; then
        echo "base image $name exists, skipping"
        return
    fi
    command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; exit 1; }
    local root
    root=$(mktemp -d)
    trap 'rm -rf "$root"' RETURN
    echo "debootstrapping $name ($packages) from $MIRROR"
    debootstrap --variant=minbase --include="$packages" "$SUITE" "$root" "$MIRROR" >/dev/null
    # Keep the mirror as the image's apt source; drop caches, docs and logs.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/var/log/*.log "$root"/var/log/apt/*
    tar --numeric-owner -C "$root" -c . | "$DOCKER" import \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LANG=C.UTF-8" \
        --change "CMD $cmd" \
        - "$name" >/dev/null
    echo "built $name"
}

build_image "$PYTHON_IMAGE" python3,python3-venv,tini '["python3"]'
build_image "$REDIS_IMAGE" redis-server '["redis-server"]'
