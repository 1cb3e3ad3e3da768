# Shared by the scripts: where things are, installing what is missing, and
# starting throwaway redis-servers. Sourced, not run.

CK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CK_CACHE=${CK_CACHE:-$CK_ROOT/.cache}
# Some machines export LIBRARY_PATH for other toolchains; hiredis's Makefile
# would install into it.
unset LIBRARY_PATH

# Debian packages the project needs to build, test, demo and benchmark.
CK_PACKAGES=(gcc make pkg-config meson ninja-build libhiredis-dev redis-server redis-tools
             libcmocka-dev bats dpkg-dev xz-utils valgrind procps
             libevent-dev libredis-fast-perl webdis curl prometheus strace man-db
             clang libclang-rt-14-dev clang-format rsyslog rsyslog-hiredis varnish varnish-redis ccache
             util-linux ruby-hiredis)

ck_say() { printf '==> %s\n' "$*" >&2; }

ck_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs whichever of CK_PACKAGES (plus any given) is not installed yet.
ck_install_missing() {
    local missing=() pkg
    for pkg in "${CK_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    ck_say "installing ${missing[*]}"
    ck_as_root apt-get update -q >/dev/null
    ck_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures (once) and compiles a build directory. Extra arguments go to
# `meson setup`.
# Everything is built (the programs are features that a plain `meson setup`
# builds only when their dependencies are found): a missing dependency
# fails the build instead of silently skipping tests.
ck_build() {
    local dir=$1; shift
    local all=(-Dtests=enabled -Dexamples=enabled -Dbench=enabled)
    if [ ! -f "$CK_ROOT/$dir/build.ninja" ]; then
        meson setup "$CK_ROOT/$dir" "$CK_ROOT" "${all[@]}" "$@" >/dev/null
    else
        meson configure "$CK_ROOT/$dir" "${all[@]}" >/dev/null
    fi
    meson compile -C "$CK_ROOT/$dir" >/dev/null
}

# A TCP port nobody listens on now, below the range the kernel hands out
# to outgoing connections (a client's local port would block a listener).
ck_free_port() {
    local port low
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 12000 ] || low=32768
    for _ in $(seq 1 100); do
        port=$(( (RANDOM % (low - 11000)) + 10000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# ck_redis_start DIR PORT [extra redis-server arguments]: starts a
# redis-server on 127.0.0.1:PORT with its files in DIR and waits until it
# answers (at most 10 s).
ck_redis_start() {
    local dir=$1 port=$2; shift 2
    mkdir -p "$dir"
    # (fd 3 closed: a server left behind must not hold bats's output open)
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" 3>&- || return 1
    local i
    for i in $(seq 1 200); do
        # any answer will do: PONG, or NOAUTH from a server with a
        # password, or MASTERDOWN from a stale replica
        redis-cli -p "$port" ping 2>&1 | grep -qE 'PONG|NOAUTH|MASTERDOWN' && return 0
        sleep 0.05
    done
    echo "redis-server on port $port did not start; log:" >&2
    cat "$dir/redis.log" >&2
    return 1
}

# ck_redis_stop DIR: kills the server started in DIR and waits for it to go.
ck_redis_stop() {
    local dir=$1 pid
    [ -f "$dir/redis.pid" ] || return 0
    pid=$(cat "$dir/redis.pid")
    kill -9 "$pid" 2>/dev/null || true
    # gone, or a zombie waiting for whoever reaps orphans here
    for _ in $(seq 1 200); do
        [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "" ] && break
        [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ] && break
        sleep 0.02
    done
    rm -f "$dir/redis.pid"
}
