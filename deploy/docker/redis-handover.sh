#!/bin/sh
# resque-redis-handover: before a data node of a Sentinel-managed group stops
# on purpose (Kubernetes preStop, or by hand), hand the primary role over to a
# replica, so the stop costs clients a reconnect instead of a failure
# detection (down-after-milliseconds) and a failover.
#
#   resque-redis-handover
#
# When this node is the primary, it asks one Sentinel for `SENTINEL FAILOVER`,
# then waits until this node has become a replica. `SENTINEL FAILOVER` is not
# agreed with the other Sentinels, so the one asked must be up to date: it must
# name this node as the primary, not be failing over already, and have the
# newest configuration epoch of those that answer (a Sentinel that has just
# restarted may not have heard of the last failover yet: failing over from its
# stale view would fork the group's configuration). A Sentinel running under
# this node's own name is skipped: it stops too. Always exits 0, so a stop is
# never held up for longer than REDIS_HANDOVER_TIMEOUT.
#
# Environment: REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD,
# REDIS_NODE_HOSTNAME, REDIS_PORT_NUMBER as for resque-redis-node; REDISCLI_AUTH
# for this node; REDIS_HANDOVER_TIMEOUT seconds to wait (default 20).
set -u

log() { echo "resque-redis-handover: $*" >&2; }

role() { timeout 3 redis-cli --no-auth-warning -p "${REDIS_PORT_NUMBER:-6379}" role 2>/dev/null | head -n 1; }

# sentinel HOST PORT ARGS...: a command to one Sentinel, with its password if any.
sentinel() {
    s_host=$1
    s_port=$2
    shift 2
    if [ -n "${REDIS_SENTINEL_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$REDIS_SENTINEL_PASSWORD timeout 3 redis-cli --no-auth-warning \
            -h "$s_host" -p "$s_port" --raw "$@" 2>&1
    else
        env -u REDISCLI_AUTH timeout 3 redis-cli -h "$s_host" -p "$s_port" --raw "$@" 2>&1
    fi
}

[ -n "${REDIS_SENTINELS:-}" ] || exit 0
[ "$(role)" = master ] || exit 0

master_name=${REDIS_SENTINEL_MASTER:-resque}
me=${REDIS_NODE_HOSTNAME:-$(hostname -f)}
my_port=${REDIS_PORT_NUMBER:-6379}

# Each Sentinel's view: "host port config-epoch primary-host primary-port flags".
views=""
for entry in $(echo "$REDIS_SENTINELS" | tr ',' ' '); do
    host=${entry%:*}
    port=${entry##*:}
    [ "$port" = "$entry" ] && port=26379
    [ "$host" = "$me" ] && continue
    view=$(sentinel "$host" "$port" sentinel master "$master_name" | awk '
        NR % 2 == 1 { key = $0; next }
        { value[key] = $0 }
        END { if (value["ip"] != "") print value["config-epoch"], value["ip"], value["port"], value["flags"] }')
    [ -n "$view" ] && views="$views$host $port $view
"
done
newest=$(printf '%s' "$views" | awk 'NF { if ($3 > max) max = $3 } END { print max + 0 }')

asked=""
for candidate in $(printf '%s' "$views" | awk -v me="$me" -v p="$my_port" -v e="$newest" \
    'NF && $3 == e && $4 == me && $5 == p && $6 == "master" { print $1 ":" $2 }'); do
    reply=$(sentinel "${candidate%:*}" "${candidate##*:}" sentinel failover "$master_name")
    if [ "$reply" = OK ]; then
        asked=${candidate%:*}
        break
    fi
    log "${candidate%:*}: ${reply:-no answer}"
done
if [ -z "$asked" ]; then
    log "no up-to-date Sentinel would fail over (views: $(printf '%s' "$views" | tr '\n' ';')); stopping as the primary"
    exit 0
fi
log "$asked is failing over $master_name; waiting to become a replica"
waited=0
while [ "$waited" -lt "${REDIS_HANDOVER_TIMEOUT:-20}" ]; do
    if [ "$(role)" != master ]; then
        log "handed over"
        exit 0
    fi
    sleep 1
    waited=$((waited + 1))
done
log "still the primary after ${waited}s; stopping anyway"
exit 0
