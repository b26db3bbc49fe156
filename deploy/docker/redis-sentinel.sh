#!/bin/sh
# resque-redis-sentinel: start a Redis Sentinel watching a resque-py Redis
# group (the Compose `ha` profile and the Kubernetes component `redis-sentinel`).
#
#   resque-redis-sentinel
#
# Sentinel rewrites its config file as the group changes, so the file lives on
# a writable volume. At every start the file is written afresh: the primary to
# monitor is the one the other Sentinels name now (else the one this Sentinel's
# previous file named, else the initial primary of a new group), this
# Sentinel's id is kept (so the others do not count it twice), and the
# settings and passwords are the current ones.
#
# Environment:
#   REDIS_SENTINEL_CONFIG     the config file Sentinel owns (default /data/sentinel.conf)
#   REDIS_SENTINEL_SETTINGS   a file appended after the `sentinel monitor` line
#                             (down-after-milliseconds, failover-timeout, ...)
#   REDIS_SENTINEL_MASTER     the master name (default resque)
#   REDIS_SENTINEL_QUORUM     Sentinels that must agree the primary is down (default 2)
#   REDIS_SENTINEL_PORT       this Sentinel's port (default 26379)
#   REDIS_SENTINELS           host:port,... of every Sentinel of the group, asked for the
#                             current primary (this one is skipped)
#   REDIS_NODE_HOSTNAME       this Sentinel's name as the others resolve it (default: hostname -f)
#   REDIS_INITIAL_PRIMARY     host[:port] of the primary of a new group (required)
#   REDIS_USERNAME, REDIS_PASSWORD
#                             the data nodes' credentials (sentinel auth-user / auth-pass)
#   REDIS_SENTINEL_PASSWORD   this Sentinel's own password (requirepass), also the one it
#                             gives the other Sentinels (sentinel sentinel-pass)
set -eu

log() { echo "resque-redis-sentinel: $*" >&2; }

config=${REDIS_SENTINEL_CONFIG:-/data/sentinel.conf}
master_name=${REDIS_SENTINEL_MASTER:-resque}
quorum=${REDIS_SENTINEL_QUORUM:-2}
port=${REDIS_SENTINEL_PORT:-26379}
me=${REDIS_NODE_HOSTNAME:-$(hostname -f)}
initial=${REDIS_INITIAL_PRIMARY:?set REDIS_INITIAL_PRIMARY to the primary of a new group}

# view HOST PORT: "config-epoch host port" of the primary that Sentinel knows, or nothing.
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

# The primary the other Sentinels name, under the newest configuration epoch.
views=""
for sentinel in $(echo "${REDIS_SENTINELS:-}" | tr ',' ' '); do
    host=${sentinel%:*}
    sentinel_port=${sentinel##*:}
    [ "$sentinel_port" = "$sentinel" ] && sentinel_port=26379
    [ "$host" = "$me" ] && continue
    timeout 2 getent hosts "$host" >/dev/null 2>&1 || continue
    answer=$(view "$host" "$sentinel_port" || true)
    [ -n "$answer" ] && views="$views$answer
"
done
primary=$(printf '%s' "$views" | awk 'NF && (best == "" || $1 > epoch) { epoch = $1; best = $2 " " $3 } END { print best }')
[ -n "$primary" ] && log "the other Sentinels name $primary as the primary of $master_name"

# What this Sentinel knew before: its id (so the others do not count it twice),
# the primary it monitored, and the epochs. Epochs order the group's
# configurations: a Sentinel restarted at epoch 0 could publish a failover
# under an epoch already used, and the others would ignore it.
myid=""
previous=""
epochs=""
if [ -r "$config" ]; then
    myid=$(awk '$1 == "sentinel" && $2 == "myid" { print $3; exit }' "$config")
    previous=$(awk -v m="$master_name" \
        '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4, $5; exit }' "$config")
    epochs=$(awk '$1 == "sentinel" && $2 == "current-epoch" { print; exit }' "$config")
    if [ -z "$primary" ] && [ -n "$previous" ]; then
        primary=$previous
        log "no other Sentinel answered; monitoring $primary, as before"
    fi
    if [ -n "$primary" ] && [ "$primary" = "$previous" ]; then
        # The same primary: its configuration epoch still holds.
        epochs="$epochs
$(awk -v m="$master_name" '$1 == "sentinel" && ($2 == "config-epoch" || $2 == "leader-epoch") && $3 == m' "$config")"
    fi
fi
if [ -z "$primary" ]; then
    case $initial in
        *:*) primary="${initial%:*} ${initial##*:}" ;;
        *) primary="$initial 6379" ;;
    esac
    log "no other Sentinel answered (a new group): monitoring the initial primary $primary"
fi

new="$config.new"
{
    echo "# Written by resque-redis-sentinel at start; Sentinel rewrites it while it runs."
    echo "port $port"
    echo "bind * -::*"
    echo "protected-mode no"
    echo "dir $(dirname "$config")"
    echo "sentinel resolve-hostnames yes"
    echo "sentinel announce-hostnames yes"
    echo "sentinel announce-ip $me"
    echo "sentinel announce-port $port"
    [ -n "$myid" ] && echo "sentinel myid $myid"
    if [ -n "${REDIS_SENTINEL_PASSWORD:-}" ]; then
        echo "requirepass \"$REDIS_SENTINEL_PASSWORD\""
        echo "sentinel sentinel-pass \"$REDIS_SENTINEL_PASSWORD\""
    fi
    echo "sentinel monitor $master_name $primary $quorum"
    [ -n "$epochs" ] && echo "$epochs"
    [ -n "${REDIS_USERNAME:-}" ] && echo "sentinel auth-user $master_name \"$REDIS_USERNAME\""
    [ -n "${REDIS_PASSWORD:-}" ] && echo "sentinel auth-pass $master_name \"$REDIS_PASSWORD\""
    if [ -n "${REDIS_SENTINEL_SETTINGS:-}" ]; then
        cat "$REDIS_SENTINEL_SETTINGS"
    fi
} >"$new"
chmod 600 "$new"
mv "$new" "$config"
exec redis-server "$config" --sentinel
