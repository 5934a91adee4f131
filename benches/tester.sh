#!/usr/bin/env bash
# greenlight-tester's throughput with its default settings: N URLs (default 10,000) replayed
# against nginx proxying to a backend that answers in DELAY_MS (default 20 ms), next to `wrk`
# against the same nginx, on loopback, in one command.
#
#   bash benches/tester.sh [URLS] [DELAY_MS]
#
# Needs nginx and wrk (Debian packages: `apt-get install nginx wrk`). Starts its own nginx and
# backend on free loopback ports and stops them (by PID) on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
urls=${1:-10000}
delay=${2:-20}
command -v nginx >/dev/null || { echo "nginx missing: apt-get install nginx" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 2; }
cargo build --quiet --release --bin greenlight-tester --example slow_backend

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(port); front=$(port)

target/release/examples/slow_backend "$up" "$delay" 2>/dev/null &
pids+=($!)
cat >"$work/site.conf" <<CONF
upstream app { server 127.0.0.1:$up; keepalive 256; }
server {
    listen 127.0.0.1:$front default_server;
    server_name www.example.com;
    location / {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$host;
    }
}
CONF
sed -e "s#@DIR@#$work#g" -e "s#@SITE@#$work/site.conf#g" fixtures/nginx/main.conf.in |
  sed -e 's/^worker_processes 1;/worker_processes 2;/' -e "s#access_log .*#access_log off;#" >"$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -g "error_log $work/error.log warn;" &
pids+=($!)
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$front") 2>/dev/null && break; sleep 0.05; done

{ echo "path,host,expected_status,hits,scheme"
  for i in $(seq 1 "$urls"); do echo "/item/$i?page=$((i % 7)),www.example.com,200,1,https"; done
} >"$work/list.csv"

echo "== greenlight-tester: $urls URLs, default settings, backend ${delay} ms behind nginx"
/usr/bin/time -f 'wall %e s, cpu %U s user + %S s sys, peak rss %M KB' \
  target/release/greenlight-tester --list "$work/list.csv" --endpoint "http://127.0.0.1:$front" \
  --json "$work/report.json" 2>&1 | grep -vE '^\s+(list|blue)' || true
echo "== the same with --concurrency 64, and with --baseline (the same nginx as blue: 3 requests per URL)"
for extra in "--concurrency 64" "--concurrency 64 --baseline http://127.0.0.1:$front"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f 'wall %e s, cpu %U s user + %S s sys, peak rss %M KB' \
    target/release/greenlight-tester --list "$work/list.csv" --endpoint "http://127.0.0.1:$front" \
    $extra 2>&1 | grep -E 'PASSED|FAILED|URLs in|wall' || true
done
echo "== wrk on the same nginx (16 connections = the tester's default concurrency, then 64)"
for c in 16 64; do
  wrk -t2 -c"$c" -d10s "http://127.0.0.1:$front/item/1" | grep -E 'Requests/sec|Latency|requests in'
done
