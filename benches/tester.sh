#!/usr/bin/env bash
# greenlight-tester's throughput, next to `wrk` on the same nginx at the same concurrency, on
# loopback, in one command: (1) 10 x N URLs answered by nginx itself with a small
# static body, tester URLs/s against wrk's requests/s; (2) N URLs through nginx to a backend that
# answers in DELAY_MS (default 20 ms), tester time against the ideal N x DELAY / concurrency.
#
#   [ROUNDS=5] bash benches/tester.sh [URLS] [DELAY_MS]
#
# Needs nginx and wrk (Debian packages: `apt-get install nginx wrk`). Starts its own nginx and
# backend on free loopback ports and stops them (by PID) on exit. TESTER=/path/to/binary runs
# another build of the tester (an A/B comparison: copy the old binary aside first).
set -euo pipefail
cd "$(dirname "$0")/.."
urls=${1:-10000}
delay=${2:-20}
tester=${TESTER:-target/release/greenlight-tester}
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
    location /s/ { default_type text/plain; return 200 "ok\n"; }
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

# Two lists of the same size: /item/* goes through nginx to the slow backend, /s/* is answered
# by nginx itself with a small static body (the server's own speed, for the wrk comparison).
# The static list is 10x longer, so the tester's run lasts long enough (seconds) to be measured.
static_urls=$((urls * 10))
for kind in item s; do
  n=$urls; [ "$kind" = s ] && n=$static_urls
  { echo "path,host,expected_status,hits,scheme"
    for i in $(seq 1 "$n"); do echo "/$kind/$i?page=$((i % 7)),www.example.com,200,1,https"; done
  } >"$work/$kind.csv"
done

# run_tester LIST CONCURRENCY [EXTRA...]: prints the wall seconds of one tester run (exit 0 asserted).
run_tester() {
  local list=$1 c=$2; shift 2
  /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$tester" --list "$list" \
    --endpoint "http://127.0.0.1:$front" --concurrency "$c" "$@" >"$work/out" 2>&1 ||
    { cat "$work/out" >&2; echo "tester failed" >&2; exit 1; }
  cut -d' ' -f1 "$work/time"
}
# wrk_rate PATH CONCURRENCY [SECONDS]: requests/s from a wrk run (10 s) on the same nginx.
wrk_rate() {
  wrk -t2 -c"$2" -d"${3:-10}s" "http://127.0.0.1:$front$1" | awk '/Requests\/sec/ { print $2 }'
}
median() { # of the numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# The machines this runs on are shared, and their speed drifts between one run and the next by
# more than the ratio's margin: the tester and wrk run back to back in ROUNDS rounds (default
# 5; wrk for 3 s, about as long as the tester's run), each ratio is taken within its round, and
# the median over the rounds is the figure.
rounds=${ROUNDS:-5}
echo "== static responses from nginx: greenlight-tester vs wrk at the same concurrency ($rounds rounds)"
for c in 16 64; do
  ratios=()
  for round in $(seq "$rounds"); do
    wall=$(run_tester "$work/s.csv" "$c")
    # The tester's CPU (user+sys): steadier than the ratio, whose wrk side moves by half.
    cpu=$(awk '{ print $2 + $3 }' "$work/time")
    rate=$(wrk_rate /s/1 "$c" 3)
    ratios+=("$(awk -v n="$static_urls" -v w="$wall" -v r="$rate" 'BEGIN { printf "%.2f", n / (w > 0 ? w : 0.01) / r }')")
    awk -v n="$static_urls" -v w="$wall" -v r="$rate" -v c="$c" -v k="$round" -v u="$cpu" 'BEGIN {
      t = n / (w > 0 ? w : 0.01)
      printf "concurrency %3d, round %d: tester %8.0f URLs/s (%d URLs in %.2f s, %.2f s cpu, %.1f us cpu/URL), wrk %8.0f req/s, tester/wrk %.2f\n", c, k, t, n, w, u, u * 1e6 / n, r, t / r }'
  done
  echo "concurrency $c: tester/wrk ${ratios[*]} -> median $(printf '%s\n' "${ratios[@]}" | median) (target >= 0.5)"
done

echo "== $urls URLs, backend ${delay} ms behind nginx: time against the ideal (URLs x latency / concurrency)"
for c in 16 64; do
  wall=$(run_tester "$work/item.csv" "$c" --json "$work/report.json")
  rate=$(wrk_rate /item/1 "$c")
  awk -v n="$urls" -v w="$wall" -v d="$delay" -v c="$c" -v r="$rate" 'BEGIN {
    ideal = n * d / 1000 / c
    printf "concurrency %3d: tester %.2f s, ideal %.2f s, tester/ideal %.2f; wrk %.0f req/s, tester %.0f URLs/s\n", c, w, ideal, w / ideal, r, n / w }'
done
echo "== with --baseline (the same nginx as blue: up to 3 requests per URL), concurrency 64"
wall=$(run_tester "$work/item.csv" 64 --baseline "http://127.0.0.1:$front")
awk -v n="$urls" -v w="$wall" -v d="$delay" 'BEGIN {
  printf "tester %.2f s for %d URLs (up to 3 requests each), ideal at 3 requests %.2f s, ratio %.2f\n", w, n, 3 * n * d / 1000 / 64, w / (3 * n * d / 1000 / 64) }'
