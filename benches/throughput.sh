#!/usr/bin/env bash
# The miner on a generated day of ALB logs, next to inflating the same objects with `gzip -dc`
# (and `libdeflate-gunzip` when installed), in one command, so the figures are ratios taken on
# the same machine at the same time.
#
#   bash benches/throughput.sh [LINES_PER_OBJECT] [OBJECTS_PER_NODE]
#
# Prints wall seconds, CPU seconds (user+sys: meaningful on a busy machine), uncompressed MB/s,
# lines/s, CPU-seconds per GiB and peak RSS for each.
set -euo pipefail
cd "$(dirname "$0")/.."
lines_per_object=${1:-50000}
objects_per_node=${2:-8}
day=2026-03-01
corpus=target/throughput/corpus
cargo build --quiet --release --bin greenlight-miner --example synth
if [ ! -f "$corpus.done-$lines_per_object-$objects_per_node" ]; then
  rm -rf "$corpus" target/throughput/corpus.done-*
  mkdir -p target/throughput
  target/release/examples/synth --out "$corpus" --seed 42 --first-day "$day" --days 1 \
    --objects-per-node-per-day "$objects_per_node" --lines-per-object "$lines_per_object" >/dev/null
  touch "$corpus.done-$lines_per_object-$objects_per_node"
fi
# The objects the miner reads for $day: every ALB access log of the generated day (the next
# day's folder only holds the 23:55-24:00 objects).
mapfile -t files < <(find "$corpus" -name '*_app.*.log.gz' | sort)
bytes=$(cat "${files[@]}" | gzip -dc | wc -c)
lines=$(cat "${files[@]}" | gzip -dc | wc -l)
compressed=$(cat "${files[@]}" | wc -c)
awk -v n="${#files[@]}" -v c="$compressed" -v b="$bytes" -v l="$lines" 'BEGIN {
  printf "corpus: %d objects, %.1f MB compressed, %.1f MB uncompressed (%.1f:1), %d lines\n", n, c/1e6, b/1e6, b/c, l }'

measure() { # name, command...
  local name=$1; shift
  local t=target/throughput/time.txt
  /usr/bin/time -o "$t" -f '%e %U %S %M' "$@" >/dev/null 2>&1
  awk -v name="$name" -v b="$bytes" -v l="$lines" '{ cpu = $2 + $3; wall = ($1 > 0 ? $1 : 0.01)
    printf "%-30s %7.2f s wall %7.2f s cpu %8.1f MB/s %10.0f lines/s %6.2f cpu-s/GiB %7.1f MB rss\n",
      name, $1, cpu, b/1e6/wall, l/wall, cpu/(b/1073741824), $4/1000 }' "$t"
}

measure "gzip -dc" sh -c 'gzip -dc "$@" >/dev/null' sh "${files[@]}"
if command -v libdeflate-gunzip >/dev/null; then
  measure "libdeflate-gunzip -c" sh -c 'for f; do libdeflate-gunzip -c "$f"; done >/dev/null' sh "${files[@]}"
fi
out=target/throughput/list.csv
for threads in 1 2; do
  measure "greenlight-miner threads=$threads" env GREENLIGHT_QUIET=1 target/release/greenlight-miner \
    --logs "$corpus" --date "$day" --out "$out" --threads "$threads" --max-error-rate 100
done

# The same day read from a local S3-compatible server (moto, installed by `bash .ci/test`),
# for the S3-vs-folder ratio. Skipped, with a note, when moto is not installed.
if [ -x target/moto-venv/bin/moto_server ]; then
  port=$(target/moto-venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  target/moto-venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  target/moto-venv/bin/python - "$port" "$corpus" <<'PY'
import os, sys, boto3
port, root = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
s3.create_bucket(Bucket="bench")
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        s3.upload_file(p, "bench", os.path.relpath(p, root))
PY
  for threads in 1 2; do
    measure "greenlight-miner s3 threads=$threads" env GREENLIGHT_QUIET=1 target/release/greenlight-miner \
      --logs s3://bench --s3-endpoint "http://127.0.0.1:$port" --date "$day" --out "$out" \
      --threads "$threads" --max-error-rate 100
  done
else
  echo "(moto not installed: run 'bash .ci/test' once for the S3 figures)"
fi
