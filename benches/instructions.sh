#!/usr/bin/env bash
# Instruction counts instead of seconds: the miner on 1 thread over part of the benchmark day,
# next to `libdeflate-gunzip -c` (and `igzip -d -c`, when installed) over the same objects, each
# under valgrind's callgrind, in one command.
#
#   bash benches/instructions.sh [--objects N] [--seed N]
#
#   --objects  ALB objects of ~16 MB (uncompressed) in the corpus (default 8, about 128 MB)
#   --seed     generator seed (default 42)
#
# Why: CPU seconds on these shared machines drift by 5-25% from one minute to the next
# (benches/throughput.sh takes a ratio per round and the median of five rounds for that
# reason), so a change worth 1-2% of the miner's CPU takes a dozen alternating runs to see, and
# is often lost in the noise. An instruction count is the same on every run of the same binary
# over the same input, whatever else the machine does; so it tells at once whether a change to
# the scan did less work. It is not the issue's figure (CPU seconds, benches/throughput.sh):
# instructions differ in cost (a cache miss costs no instruction), and valgrind runs the code
# for CPUs without AVX-512 (the split's AVX2 version; ISA-L's AVX2 inflate).
#
# Prints, per command: instructions in all, per uncompressed byte and per line; for the miner
# also the part inflating (ISA-L's `isal_inflate`, or libdeflate / flate2 with
# GREENLIGHT_INFLATE), the rest of the scan (split, parse, filter, memo, tally), and the rest of
# the run (start, window, sample, list, state); then the ratio miner/libdeflate-gunzip.
set -euo pipefail
cd "$(dirname "$0")/.."

objects=8 seed=42 day=2026-03-01
while [ $# -gt 0 ]; do
  case $1 in
    --objects) objects=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "instructions.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
command -v libdeflate-gunzip >/dev/null ||
  { echo "instructions.sh: needs libdeflate-gunzip, the baseline (apt-get install libdeflate-tools)" >&2; exit 1; }

cargo build --quiet --release --bin greenlight-miner --example synth
mkdir -p target/instructions
# The objects are those of benches/throughput.sh's 1 GiB day (same seed, lines per object and
# long tail), from two nodes.
dir=target/instructions/corpus-$objects-$seed-$day
if [ ! -f "$dir.done" ]; then
  rm -rf "$dir"
  echo "generating $dir: 2 nodes x $(( (objects + 1) / 2 )) objects x 23988 lines" >&2
  target/release/examples/synth --out "$dir" --seed "$seed" --first-day "$day" --nodes 2 \
    --objects-per-node-per-day $(( (objects + 1) / 2 )) --lines-per-object 23988 \
    --long-tail-values 10000 >/dev/null
  touch "$dir.done"
fi
mapfile -t files < <(find "$dir" -name '*_app.*.log.gz' | sort)
read -r bytes lines < <(cat "${files[@]}" | gzip -dc | wc -c -l | awk '{ print $2, $1 }')
echo "corpus $dir: ${#files[@]} objects, $(( bytes / 1000000 )) MB uncompressed, $lines lines"

out=target/instructions/callgrind.out
# count NAME COMMAND...: runs COMMAND under callgrind, with the environment variables in the
# array count_env set; prints its line, leaves the profile in $out and the count in $total.
count_env=()
count() {
  local name=$1; shift
  rm -f "$out"
  env "${count_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>target/instructions/valgrind.txt \
    || { cat target/instructions/valgrind.txt >&2; exit 1; }
  total=$(awk '/refs:/ { gsub(",", "", $NF); print $NF }' target/instructions/valgrind.txt)
  awk -v n="$name" -v t="$total" -v b="$bytes" -v l="$lines" 'BEGIN {
    printf "%-44s %15.0f instructions %7.2f per byte %8.0f per line\n", n, t, t / b, t / l }'
}
# inclusive FUNCTION: the instructions in FUNCTION and what it calls, from the last profile.
inclusive() {
  callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    awk -v f="$1" 'index($0, f) { gsub(",", "", $1); if ($1 + 0 > best) best = $1 + 0 } END { print best + 0 }'
}

count "libdeflate-gunzip -c" libdeflate-gunzip -c "${files[@]}"
baseline=$total
if command -v igzip >/dev/null; then
  count "igzip -d -c" igzip -d -c "${files[@]}"
fi
state=target/instructions/state
for inflate in default whole; do
  rm -rf "$state"
  count_env=(GREENLIGHT_QUIET=1)
  name="miner threads=1"
  if [ "$inflate" != default ]; then
    count_env+=(GREENLIGHT_INFLATE="$inflate")
    name="$name GREENLIGHT_INFLATE=$inflate"
  fi
  count "$name" target/release/greenlight-miner \
    --logs "$dir" --date "$day" --out target/instructions/list.csv --state "$state" --threads 1 \
    --max-error-rate 100
  miner=$total
  inflating=0
  for f in isal_inflate deflate_decompress_bmi2 deflate_decompress_default libdeflate_gzip_decompress_ex; do
    n=$(inclusive "$f")
    if [ "$n" -gt "$inflating" ]; then inflating=$n; fi
  done
  scan=$(inclusive greenlight::mine::scan::scan_objects)
  awk -v i="$inflating" -v s="$scan" -v m="$miner" -v b="$bytes" -v l="$lines" -v d="$baseline" '
    function row(what, n) {
      printf "  %-42s %15.0f instructions %7.2f per byte %8.0f per line\n", what, n, n / b, n / l }
    BEGIN {
      row("inflating", i)
      row("scanning but for the inflate", s - i)
      row("the rest (start, window, sample, state)", m - s)
      printf "  miner/libdeflate-gunzip instructions: %.2f\n", m / d }'
  if [ "$inflate" = default ]; then
    default_ratio=$(awk -v m="$miner" -v d="$baseline" 'BEGIN { printf "%.2f", m / d }')
  fi
done
echo "ratio miner/libdeflate-gunzip, instructions: $default_ratio (the issue's 1.3 is for CPU seconds: benches/throughput.sh)"
