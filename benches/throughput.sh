#!/usr/bin/env bash
# The throughput command: the miner on a generated day of ALB logs, next to inflating the same
# objects with `gzip -dc` and `libdeflate-gunzip` (when installed), in one command, so every
# figure is a ratio taken on the same machine at the same time.
#
#   bash benches/throughput.sh [--mb N] [--seed N] [--date YYYY-MM-DD] [--fields N|mix]
#                              [--big-mb N] [--s3] [--repeat N] [--window-days N]
#                              [--object-mb N] [--floor] [--tail-values N]
#                              [--tail-per-mille N]
#
#   --mb      target uncompressed size of the corpus in MB (default 1024)
#   --seed    generator seed (default 42)
#   --date    the generated (and mined) day (default 2026-03-01)
#   --fields  fields per line, 20-36, or `mix` for the generator's mix of layouts (default mix)
#   --big-mb  also mine a second corpus of this size with the same distinct URLs and compare
#             peak RSS (e.g. 10240; takes a while; generated under target/ and deleted after)
#   --s3      also mine the corpus from a local moto S3 server (installed by `bash .ci/test`),
#             with small objects fetched whole (the default) and with every object streamed
#   --repeat  rounds of libdeflate-gunzip, miner on 1 thread and on 2, back to back (default 5);
#             the ratios are given per round and as the median over the rounds
#   --object-mb  uncompressed size of each generated object in MB (default 16, the usual
#             object of a moderately busy load balancer; 64 is one of a busy one's)
#   --window-days  mine the day on top of a state that already holds the N-1 days before it, as
#             a nightly run with an N-day retention window does (default 1: an empty state).
#             The earlier days are generated with the same seed at 128 MB each (the window's
#             cost follows their distinct URLs, not their volume), mined once, and cached; each
#             timed run starts from a copy of that state
#   --floor   also time, in every round, a build of the miner whose lines stop after a given
#             step (`--features scan-floor`, built once under target/floor/; see
#             src/mine/scan/floor.rs): inflate and cut lines only, + fields 1-14 found by
#             position (head; instead of the split), + split, + parse, + the request filter;
#             each as a ratio to libdeflate-gunzip: the floor of any miner with those steps.
#             These runs keep no request, so they end after the scan (exit 3, "no replayable
#             request", expected) without the ~50 ms of work after it
#   --tail-values  distinct numbers each long-tail URL shape draws from (default 10000: ~30 k
#             distinct URLs a day, all seen from ~1 GB on). More makes a day of many rarely
#             requested URLs, as a site with search or per-item pages has: e.g. `--tail-values
#             900000 --tail-per-mille 500` gives ~550 k distinct URLs in 1 GiB. The tally, the
#             sort and the window then cost more a line, and the peak RSS follows the distinct
#             URLs (the --big-mb comparison assumes the default)
#   --tail-per-mille  per mille of kept requests that go to the long tail (default 200)
#
# The corpus is deterministic (same parameters, same bytes), in the real key layout, made of
# ~16 MB (uncompressed; --object-mb) objects from 4 or more ALB nodes, and its long tail of URLs
# is small enough to be seen whole from 1 GB on: the distinct URLs stay the same as the volume grows, so
# the RSS comparison measures what the scan holds, not the tally. Corpora are cached under
# target/throughput/ by parameters.
#
# Prints, for each command: wall and CPU seconds (user+sys: meaningful on a busy machine),
# uncompressed MB/s, lines/s, CPU-seconds per GiB and peak RSS; then the ratios
# miner/libdeflate (CPU-s/GiB), t1/t2 (wall) and RSS big/small. `GREENLIGHT_INFLATE=stream`
# is the miner with every object streamed through flate2 (the inflate it used before libdeflate).
set -euo pipefail
cd "$(dirname "$0")/.."

mb=1024 seed=42 day=2026-03-01 fields=mix big_mb= s3= repeat=5 window_days=1 object_mb=16 floor=
tail_values=10000 tail_per_mille=200
while [ $# -gt 0 ]; do
  case $1 in
    --mb) mb=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --date) day=$2; shift 2 ;;
    --fields) fields=$2; shift 2 ;;
    --big-mb) big_mb=$2; shift 2 ;;
    --s3) s3=1; shift ;;
    --repeat) repeat=$2; shift 2 ;;
    --window-days) window_days=$2; shift 2 ;;
    --object-mb) object_mb=$2; shift 2 ;;
    --floor) floor=1; shift ;;
    --tail-values) tail_values=$2; shift 2 ;;
    --tail-per-mille) tail_per_mille=$2; shift 2 ;;
    *) echo "throughput.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

cargo build --quiet --release --bin greenlight-miner --example synth
floor_stages=()
if [ -n "$floor" ]; then
  # Its own target folder, so that target/release keeps the shipped build (the first build
  # there is a cold one: ~5-7 minutes).
  CARGO_TARGET_DIR=target/floor cargo build --quiet --release --features scan-floor --bin greenlight-miner
  floor_stages=(lines head split parse filter)
fi
mkdir -p target/throughput
synth_fields=()
[ "$fields" = mix ] || synth_fields=(--fields "$fields")
# Long-tail URLs draw from 3 x 10000 shapes by default: all of them show up from ~1 GB of logs
# on (at 256 MB about 88% do), so compare RSS from --mb 1024 up.
synth_tail=(--long-tail-values "$tail_values" --long-tail-per-mille "$tail_per_mille")
tail_suffix=
[ "$tail_values-$tail_per_mille" = 10000-200 ] || tail_suffix=-tail-$tail_values-$tail_per_mille

# Bytes per generated line with these parameters, from a small sample.
bytes_per_line() {
  local cal=target/throughput/calibrate-$seed-$fields$tail_suffix
  if [ ! -f "$cal.bpl" ]; then
    rm -rf "$cal"
    target/release/examples/synth --out "$cal" --seed "$seed" --first-day "$day" --nodes 1 \
      --objects-per-node-per-day 2 --lines-per-object 5000 "${synth_tail[@]}" \
      "${synth_fields[@]}" >/dev/null
    find "$cal" -name '*_app.*.log.gz' -exec gzip -dc {} + | awk '{ b += length($0) + 1 } END { printf "%d\n", b / NR }' >"$cal.bpl"
    rm -rf "$cal"
  fi
  cat "$cal.bpl"
}

# make_corpus MB -> prints the corpus folder (generated once per parameters).
make_corpus() {
  local size_mb=$1 bpl objects nodes per_node lines dir
  bpl=$(bytes_per_line)
  objects=$(( (size_mb + object_mb - 1) / object_mb ))
  nodes=$(( objects / 200 + 4 ))
  per_node=$(( (objects + nodes - 1) / nodes ))
  [ "$per_node" -ge 2 ] || per_node=2
  lines=$(( size_mb * 1000000 / bpl / (nodes * per_node) ))
  dir=target/throughput/corpus-$size_mb-$seed-$day-$fields$tail_suffix
  [ "$object_mb" = 16 ] || dir=$dir-objects-$object_mb
  if [ ! -f "$dir.done" ]; then
    rm -rf "$dir"
    # The corpus takes about a sixth of its uncompressed size on disk: refuse rather than fill
    # the disk (a 10 GiB corpus needs ~1.6 GB free).
    local need_kb=$(( size_mb * 1000 / 5 )) free_kb
    free_kb=$(df --output=avail -k target | tail -1)
    if [ "$free_kb" -lt "$need_kb" ]; then
      echo "throughput.sh: $dir needs ~$(( need_kb / 1000 )) MB of disk, only $(( free_kb / 1000 )) MB free" >&2
      exit 1
    fi
    echo "generating $dir: $nodes nodes x $per_node objects x $lines lines" >&2
    target/release/examples/synth --out "$dir" --seed "$seed" --first-day "$day" --nodes "$nodes" \
      --objects-per-node-per-day "$per_node" --lines-per-object "$lines" \
      "${synth_tail[@]}" "${synth_fields[@]}" >&2
    touch "$dir.done"
  fi
  echo "$dir"
}

# describe_corpus DIR: sets files, bytes, lines and prints a summary.
describe_corpus() {
  # The objects the miner reads for $day: every ALB access log of the generated day (the next
  # day's folder only holds the 23:55-24:00 objects).
  mapfile -t files < <(find "$1" -name '*_app.*.log.gz' | sort)
  read -r bytes lines < <(cat "${files[@]}" | gzip -dc | wc -c -l | awk '{ print $2, $1 }')
  local compressed
  compressed=$(cat "${files[@]}" | wc -c)
  awk -v n="${#files[@]}" -v c="$compressed" -v b="$bytes" -v l="$lines" -v d="$1" 'BEGIN {
    printf "corpus %s: %d objects, %.1f MB compressed, %.1f MB uncompressed (%.1f:1), %d lines\n",
      d, n, c/1e6, b/1e6, b/c, l }'
}

results=target/throughput/results.txt
: >"$results"
# Which round `measure` is in (the results' fifth column).
round=1
measure() { # name, command...
  local name=$1; shift
  local t=target/throughput/time.txt
  /usr/bin/time -o "$t" -f '%e %U %S %M' "$@" >/dev/null 2>&1
  awk -v name="$name" -v b="$bytes" -v l="$lines" '{ cpu = $2 + $3; wall = ($1 > 0 ? $1 : 0.01)
    printf "%-36s %7.2f s wall %7.2f s cpu %8.1f MB/s %10.0f lines/s %6.2f cpu-s/GiB %7.1f MB rss\n",
      name, $1, cpu, b/1e6/wall, l/wall, cpu/(b/1073741824), $4/1000 }' "$t"
  awk -v name="$name" -v b="$bytes" -v r="$round" '{ printf "%s\t%s\t%s\t%s\t%s\n", name, $1, ($2 + $3)/(b/1073741824), $4, r }' "$t" >>"$results"
}
field() { # name, column (2 wall, 3 cpu-s/GiB, 4 rss KB), round (default 1)
  awk -F'\t' -v n="$1" -v c="$2" -v r="${3:-1}" '$1 == n && $5 == r { print $c }' "$results"
}
median() { # of the numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
out=target/throughput/list.csv
state=target/throughput/state
report=target/throughput/report.json
# The state every timed run starts from: empty, or the window's earlier days (--window-days).
history=
miner() { # name, threads, corpus, extra env...
  local name=$1 threads=$2 corpus=$3; shift 3
  rm -rf "$state"
  [ -z "$history" ] || cp -r "$history" "$state"
  measure "$name" env GREENLIGHT_QUIET=1 "$@" target/release/greenlight-miner --logs "$corpus" \
    --date "$day" --out "$out" --state "$state" --threads "$threads" --max-error-rate 100 \
    --window-days "$window_days" --report "$report"
}

# floor_miner STAGE: the scan-floor build on 1 thread, its lines stopping after STAGE. It keeps
# no request, so the miner ends with exit 3 after the scan: that exit is the expected one.
floor_miner() {
  rm -rf "$state"
  [ -z "$history" ] || cp -r "$history" "$state"
  measure "floor: $1" sh -c '"$@"; [ $? = 3 ]' sh env GREENLIGHT_QUIET=1 GREENLIGHT_SCAN_FLOOR="$1" \
    target/floor/release/greenlight-miner --logs "$corpus" --date "$day" --out "$out" \
    --state "$state" --threads 1 --max-error-rate 100 --window-days "$window_days"
}

# make_history: the state of the window_days - 1 days before $day (generated and mined once).
make_history() {
  local days=$(( window_days - 1 )) bpl lines first last dir
  dir=target/throughput/history-$window_days-$seed-$day-$fields$tail_suffix
  if [ ! -f "$dir.done" ]; then
    rm -rf "$dir" "$dir.logs"
    bpl=$(bytes_per_line)
    lines=$(( 128 * 1000000 / bpl / 8 ))
    first=$(date -u -d "$day - $days days" +%F)
    last=$(date -u -d "$day - 1 day" +%F)
    echo "generating and mining the $days days before $day ($first..$last, 128 MB each) into $dir" >&2
    target/release/examples/synth --out "$dir.logs" --seed "$seed" --first-day "$first" \
      --days "$days" --nodes 2 --objects-per-node-per-day 4 --lines-per-object "$lines" \
      "${synth_tail[@]}" "${synth_fields[@]}" >/dev/null
    GREENLIGHT_QUIET=1 target/release/greenlight-miner --logs "$dir.logs" --from "$first" \
      --date "$last" --out target/throughput/history-list.csv --state "$dir" \
      --window-days "$window_days" --max-error-rate 100 >/dev/null 2>&1
    rm -rf "$dir.logs"
    touch "$dir.done"
  fi
  echo "$dir"
}

corpus=$(make_corpus "$mb")
describe_corpus "$corpus"
if [ "$window_days" -gt 1 ]; then
  history=$(make_history)
  echo "state: the $(( window_days - 1 )) days before $day, $(find "$history" -name 'tally-*' | wc -l) day files, $(du -sk "$history" | cut -f1) KB"
fi
uptime
# The machines this runs on are shared: their speed drifts from one minute to the next by more
# than the differences measured here. So the commands a ratio compares run back to back, in
# rounds, and each ratio is taken within a round; the median over the rounds is the figure.
# The first round also runs `gzip -dc` and the flate2-streaming miner, for reference.
have_libdeflate=$(command -v libdeflate-gunzip || true)
for round in $(seq "$repeat"); do
  [ "$round" = 1 ] || echo "-- round $round"
  if [ "$round" = 1 ]; then
    measure "gzip -dc" sh -c 'gzip -dc "$@" >/dev/null' sh "${files[@]}"
  fi
  if [ -n "$have_libdeflate" ]; then
    # One process over every object, as the miner is one process: it reuses its output buffer
    # from object to object. Sessions before 2026-11-27 ran one process per object, whose
    # fresh output buffer is faulted in page by page every time (~0.5 s of kernel time per
    # GiB): that inflated the baseline by 53-73% and made the miner's ratio look better than it
    # was. Round 1 still runs it that way, for reference.
    measure "libdeflate-gunzip -c" libdeflate-gunzip -c "${files[@]}"
    if [ "$round" = 1 ]; then
      measure "libdeflate-gunzip, a process per object" sh -c 'for f; do libdeflate-gunzip -c "$f"; done >/dev/null' sh "${files[@]}"
    fi
  fi
  if [ "$round" = 1 ]; then
    miner "miner threads=1 (flate2 streaming)" 1 "$corpus" GREENLIGHT_INFLATE=stream
  fi
  for threads in 1 2; do
    miner "miner threads=$threads" "$threads" "$corpus"
  done
  for stage in "${floor_stages[@]}"; do
    floor_miner "$stage"
  done
done
# What follows (the big corpus, S3) runs once and is looked up as round 1.
round=1
uptime

# ratio NAME_A NAME_B COLUMN: A/B in each round, then the median.
ratio() {
  local r values=()
  for r in $(seq "$repeat"); do
    values+=("$(awk -v a="$(field "$1" "$3" "$r")" -v b="$(field "$2" "$3" "$r")" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 0.01) }')")
  done
  echo "${values[*]} -> median $(printf '%s\n' "${values[@]}" | median)"
}
echo "ratios (per round -> median of $repeat):"
if [ -n "$have_libdeflate" ]; then
  echo "  miner/libdeflate CPU-s per GiB: $(ratio "miner threads=1" "libdeflate-gunzip -c" 3) (target <= 1.3)"
  awk -v s="$(field "miner threads=1 (flate2 streaming)" 3)" -v d="$(field "libdeflate-gunzip -c" 3)" 'BEGIN {
    printf "  flate2-streaming miner/libdeflate (round 1): %.2f\n", s/d }'
  awk -v p="$(field "libdeflate-gunzip, a process per object" 3)" -v d="$(field "libdeflate-gunzip -c" 3)" 'BEGIN {
    printf "  libdeflate-gunzip a process per object / one process (round 1): %.2f\n", p/d }'
  for stage in "${floor_stages[@]}"; do
    echo "  floor ($stage)/libdeflate CPU-s per GiB: $(ratio "floor: $stage" "libdeflate-gunzip -c" 3)"
  done
fi
echo "  wall t1/t2: $(ratio "miner threads=1" "miner threads=2" 2) (target >= 1.8 on 2 idle cores)"
# The report's first "distinct" is the day's distinct URLs (urls.distinct).
echo "  distinct URLs of the day (the last run's report): $(grep -o '"distinct": *[0-9]*' "$report" | head -1 | grep -o '[0-9]*$')"

if [ -n "$big_mb" ]; then
  small_rss=$(field "miner threads=2" 4)
  small_files=("${files[@]}") small_bytes=$bytes small_lines=$lines
  big=$(make_corpus "$big_mb")
  describe_corpus "$big"
  miner "miner threads=2 big corpus" 2 "$big"
  awk -v s="$small_rss" -v b="$(field "miner threads=2 big corpus" 4)" 'BEGIN {
    printf "  peak RSS %d MB corpus / %d MB corpus: %.3f (target <= 1.10)\n", '"$big_mb"', '"$mb"', b/s }'
  rm -rf "$big" "$big.done"
  files=("${small_files[@]}") bytes=$small_bytes lines=$small_lines
fi

# The same day read from a local S3-compatible server (moto, installed by `bash .ci/test`),
# for the S3-vs-folder ratio.
if [ -n "$s3" ]; then
  if [ ! -x target/moto-venv/bin/moto_server ]; then
    echo "(moto not installed: run 'bash .ci/test' once for the S3 figures)"
    exit 0
  fi
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
  # Rounds as above: the default (small objects fetched whole, ahead of their turn) and every
  # object streamed (GREENLIGHT_INFLATE=stream, what the S3 path did before), back to back.
  for round in $(seq "$repeat"); do
    echo "-- s3 round $round"
    for threads in 1 2; do
      for inflate in whole stream; do
        name="miner s3 threads=$threads"
        [ "$inflate" = whole ] || name="$name (streamed)"
        rm -rf "$state"
        measure "$name" env GREENLIGHT_QUIET=1 GREENLIGHT_INFLATE=$inflate \
          target/release/greenlight-miner --logs s3://bench --s3-endpoint "http://127.0.0.1:$port" \
          --date "$day" --out "$out" --state "$state" --threads "$threads" --max-error-rate 100
      done
    done
  done
  echo "s3 ratios (per round -> median of $repeat; moto runs on the same cores):"
  for threads in 1 2; do
    echo "  threads=$threads fetched whole / streamed, wall: $(ratio "miner s3 threads=$threads" "miner s3 threads=$threads (streamed)" 2)"
    echo "  threads=$threads fetched whole / streamed, CPU-s per GiB: $(ratio "miner s3 threads=$threads" "miner s3 threads=$threads (streamed)" 3)"
    echo "  threads=$threads s3 / folder, CPU-s per GiB: $(ratio "miner s3 threads=$threads" "miner threads=$threads" 3)"
  done
fi
