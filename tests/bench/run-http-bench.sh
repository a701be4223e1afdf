#!/usr/bin/env bash
# Benchmark of the JSON debug port: wrk drives GET /v1/codes/5.1.1 with keep-alive at 16 and 64
# connections against the real smtpstatusd (in a temp run directory, on a free loopback port),
# and, in the same run, against nginx with ONE worker serving a static file holding the same
# JSON body on another loopback port: the baseline of a well-tuned static file server doing the
# least work an HTTP answer can need. Each measurement runs DURATION seconds (default 5) with
# one wrk thread (-t1: this machine has 2 cores, one for the load and one for the server),
# after a 1 s warm-up. The two servers take turns, ROUNDS times each (default 3), and each
# one's best round counts, so that a burst of other work on the machine (another build in CI)
# does not decide the ratio. Installs wrk and nginx-light from Debian first when they are missing and
# this runs as root. Prints one JSON line per measurement, then one per connection count with
# the ratio smtpstatusd / nginx in requests per second (the goal is at least 1.0) and
# `cpu_ratio`, nginx's CPU time per request over ours (above 1: we work less per request; it
# matters when wrk's single core, not the server, sets the rate), and exits 0 unless something
# did not run; the figures are printed, never asserted. It takes about 2 * ROUNDS * 2 * (DURATION
# + 1) seconds: 72 s by default.
#
#   tests/bench/run-http-bench.sh BUILD_DIR
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
duration=${DURATION:-5}
daemon=$build/smtpstatusd
[ -x "$daemon" ] || { echo "run-http-bench: $daemon is missing; build first" >&2; exit 2; }

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "run-http-bench: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
            >/dev/null 2>&1 || { echo "run-http-bench: could not install ${missing[*]}" >&2; exit 1; }
    else
        echo "run-http-bench: ${missing[*]} missing and this is not root" >&2
        exit 1
    fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
daemon_pid="" nginx_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
    [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null
    sleep 0.2
    rm -rf "$tmp"
}
trap cleanup EXIT

# The daemon detaches once it is ready; its log (kept on stderr, not syslog) says which port
# it got.
"$daemon" --rundir "$tmp/run" --statedir "$tmp/state" --http 127.0.0.1:0 --log-target stderr \
    2>"$tmp/daemon.log"
daemon_pid=$(cat "$tmp/run/smtpstatusd.lock")
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/daemon.log")
url=http://127.0.0.1:$port/v1/codes/5.1.1

# nginx: one worker, the daemon's exact body as a static file under the same path, keep-alive
# without a request limit, access log off, open file cache on: its fastest static setup.
mkdir -p "$tmp/www/v1/codes" "$tmp/nginx"
curl -sf "$url" -o "$tmp/www/v1/codes/5.1.1"
chmod -R a+rX "$tmp"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
# nginx cannot listen on port 0, so a free port is picked and released first; another process
# may take it meanwhile, so a failed start is retried on a new one.
write_nginx_conf() {
cat >"$tmp/nginx/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon on;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    types { }
    default_type application/json;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        root $tmp/www;
    }
}
CONF
}
started=""
for _ in 1 2 3 4 5; do
    nginx_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    write_nginx_conf
    if "$nginx_bin" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e "$tmp/nginx/error.log" 2>>"$tmp/nginx/start.err"; then
        started=1
        break
    fi
done
if [ -z "$started" ]; then
    echo "run-http-bench: nginx did not start:" >&2
    cat "$tmp/nginx/start.err" >&2
    exit 1
fi
for _ in $(seq 50); do [ -s "$tmp/nginx/nginx.pid" ] && break; sleep 0.1; done
nginx_pid=$(cat "$tmp/nginx/nginx.pid")
nginx_url=http://127.0.0.1:$nginx_port/v1/codes/5.1.1
if ! cmp -s <(curl -sf "$url") <(curl -sf "$nginx_url"); then
    echo "run-http-bench: nginx does not serve the daemon's body" >&2
    exit 1
fi
body_bytes=$(stat -c %s "$tmp/www/v1/codes/5.1.1")

# The CPU time (user + system, in clock ticks) a process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
nginx_worker=""

# measure NAME URL CONNECTIONS PID: prints a JSON line; sets $rps and $cpu_us (the server's
# CPU time per request, in microseconds: when wrk's one core is the limit, both servers may
# reach the same rate, and this says which one worked less for it).
measure() {
    local name=$1 u=$2 c=$3 p=$4
    wrk -t1 -c"$c" -d1s "$u" >/dev/null
    local t0 t1
    t0=$(cpu_ticks "$p")
    wrk -t1 -c"$c" -d"${duration}s" --latency "$u" >"$tmp/wrk.out"
    t1=$(cpu_ticks "$p")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.out")
    cpu_us=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v r="${rps:-0}" -v s="$duration" \
        'BEGIN { printf "%.2f", (r > 0) ? d * 1e6 / hz / (r * s) : 0 }')
    local p99 errors
    p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.out")
    errors=$(awk '/Non-2xx or 3xx responses:/ { print $5 } /Socket errors:/ { print "socket" }' "$tmp/wrk.out" | head -n 1)
    printf '{"bench":"http","server":"%s","path":"/v1/codes/5.1.1","body_bytes":%s,"connections":%s,"seconds":%s,"requests_per_sec":%s,"server_cpu_us_per_request":%s,"latency_p99":"%s","errors":"%s"}\n' \
        "$name" "$body_bytes" "$c" "$duration" "${rps:-0}" "$cpu_us" "${p99:-?}" "${errors:-none}"
}

rounds=${ROUNDS:-3}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
least() { awk -v a="$1" -v b="$2" 'BEGIN { print (b + 0 > 0 && (a + 0 == 0 || b + 0 < a + 0)) ? b : a }'; }
nginx_worker=$(pgrep -P "$nginx_pid" | head -n 1)
for c in 16 64; do
    ours=0 theirs=0 ours_cpu=0 theirs_cpu=0
    for _ in $(seq "$rounds"); do
        measure smtpstatusd "$url" "$c" "$daemon_pid"
        ours=$(best "$ours" "$rps")
        ours_cpu=$(least "$ours_cpu" "$cpu_us")
        measure nginx "$nginx_url" "$c" "$nginx_worker"
        theirs=$(best "$theirs" "$rps")
        theirs_cpu=$(least "$theirs_cpu" "$cpu_us")
    done
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
    cpu_ratio=$(awk -v a="$ours_cpu" -v b="$theirs_cpu" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')
    printf '{"bench":"http","connections":%s,"smtpstatusd_rps":%s,"nginx_rps":%s,"ratio":%s,"smtpstatusd_cpu_us_per_request":%s,"nginx_cpu_us_per_request":%s,"cpu_ratio":%s,"goal":1.0}\n' \
        "$c" "$ours" "$theirs" "$ratio" "$ours_cpu" "$theirs_cpu" "$cpu_ratio"
    met=$(awk -v r="$ratio" 'BEGIN { print (r + 0 >= 1.0) ? "met" : "NOT met" }')
    echo "run-http-bench: goal http $c connections at least nginx's rate: ratio $ratio, $met" >&2
done
if grep -q ': error: \|: warning: ' "$tmp/daemon.log"; then
    echo "run-http-bench: the daemon logged warnings or errors:" >&2
    grep ': error: \|: warning: ' "$tmp/daemon.log" >&2
fi
