#!/bin/sh
# resque-redis-node: start one Redis data node of a Sentinel-managed group in
# the role the Sentinels give it now (the Compose `ha` profile and the
# Kubernetes component `redis-sentinel`). Without Sentinels it is plain
# `redis-server "$@"`.
#
#   resque-redis-node /etc/resque-py/redis.conf [more redis-server options]
#
# A node that restarts must not come back as the primary it was before a
# failover: its data would be older than the promoted replica's, and the
# replicas would copy it. So at every start it asks the Sentinels which node
# is the primary now, and starts as that node's replica unless it is that node.
#
# Environment:
#   REDIS_SENTINELS          host:port,host:port,... of the Sentinels to ask (empty: no Sentinels)
#   REDIS_SENTINEL_MASTER    the master name they monitor (default resque)
#   REDIS_SENTINEL_PASSWORD  their password, when they require one
#   REDIS_NODE_HOSTNAME      this node's name as the others resolve it (default: hostname -f);
#                            announced to the Sentinels (replica-announce-ip)
#   REDIS_INITIAL_PRIMARY    host[:port] of the primary of a new group (default: this node)
#   REDIS_SENTINEL_STATE     a Sentinel config file whose `sentinel monitor` line names the
#                            last primary that Sentinel knew (Kubernetes: the pod's own
#                            Sentinel), used when no Sentinel answers
#   REDIS_DISCOVERY_TIMEOUT  seconds to keep asking while a Sentinel name resolves (default 15)
#   REDIS_PORT_NUMBER        the port this node listens on, as in its config (default 6379)
set -eu

log() { echo "resque-redis-node: $*" >&2; }

if [ -z "${REDIS_SENTINELS:-}" ]; then
    exec redis-server "$@"
fi

master_name=${REDIS_SENTINEL_MASTER:-resque}
me=${REDIS_NODE_HOSTNAME:-$(hostname -f)}
port=${REDIS_PORT_NUMBER:-6379}
timeout=${REDIS_DISCOVERY_TIMEOUT:-15}
sentinels=$(echo "$REDIS_SENTINELS" | tr ',' ' ')

# view HOST PORT: "config-epoch host port" of the primary that Sentinel knows,
# or nothing. The configuration epoch tells a Sentinel that has just restarted
# (and not yet heard of the last failover) from one that is up to date.
view() {
    if [ -n "${REDIS_SENTINEL_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$REDIS_SENTINEL_PASSWORD timeout 3 redis-cli --no-auth-warning \
            -h "$1" -p "$2" --raw sentinel master "$master_name" 2>/dev/null
    else
        env -u REDISCLI_AUTH timeout 3 redis-cli -h "$1" -p "$2" --raw \
            sentinel master "$master_name" 2>/dev/null
    fi | awk '
        NR % 2 == 1 { key = $0; next }
        { value[key] = $0 }
        END {
            if (value["ip"] != "" && value["port"] ~ /^[0-9]+$/)
                print value["config-epoch"] + 0, value["ip"], value["port"]
        }'
}

# One round over the Sentinels: the primary named under the newest
# configuration epoch. Sets $primary ("host port", or empty), and $resolvable
# when at least one Sentinel name resolves (one exists).
ask_all() {
    primary=""
    resolvable=""
    views=""
    for sentinel in $sentinels; do
        host=${sentinel%:*}
        sentinel_port=${sentinel##*:}
        [ "$sentinel_port" = "$sentinel" ] && sentinel_port=26379
        timeout 2 getent hosts "$host" >/dev/null 2>&1 || continue
        resolvable=yes
        answer=$(view "$host" "$sentinel_port" || true)
        [ -n "$answer" ] && views="$views$answer
"
    done
    primary=$(printf '%s' "$views" | awk 'NF && (best == "" || $1 > epoch) { epoch = $1; best = $2 " " $3 } END { print best }')
    return 0
}

deadline=$(($(date +%s) + timeout))
ask_all
while [ -z "$primary" ] && [ -n "$resolvable" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 1
    ask_all
done

if [ -n "$primary" ]; then
    log "the Sentinels name $primary as the primary of $master_name"
elif [ -n "${REDIS_SENTINEL_STATE:-}" ] && [ -r "$REDIS_SENTINEL_STATE" ] &&
    primary=$(awk -v m="$master_name" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4, $5; exit }' \
        "$REDIS_SENTINEL_STATE") && [ -n "$primary" ]; then
    log "no Sentinel answered; the last primary $REDIS_SENTINEL_STATE knew is $primary"
else
    initial=${REDIS_INITIAL_PRIMARY:-$me}
    case $initial in
        *:*) primary="${initial%:*} ${initial##*:}" ;;
        *) primary="$initial 6379" ;;
    esac
    if [ -n "$resolvable" ]; then
        log "no Sentinel answered within ${timeout}s: the initial primary is $primary"
    else
        log "no Sentinel exists (yet): the initial primary is $primary"
    fi
fi

primary_host=${primary% *}
primary_port=${primary#* }
if [ "$primary_host" = "$me" ] && [ "$primary_port" = "$port" ]; then
    log "starting $me as the primary"
    exec redis-server "$@" --replica-announce-ip "$me"
fi
log "starting $me as a replica of $primary_host:$primary_port"
exec redis-server "$@" --replica-announce-ip "$me" --replicaof "$primary_host" "$primary_port"
