#!/usr/bin/env bash
# The retention window at scale: DAYS generated days of about 1 million distinct URLs each
# (nearly disjoint long tails), mined with one range run; then the size of the state and the
# CPU time and peak memory of mining one such day (the last, with the days before it in the
# state: scan + tally + writing the day + reading the window back + sampling).
#
#   bash benches/history.sh [DAYS] [LINES_PER_OBJECT]
#   BASELINE=path/to/greenlight-miner bash benches/history.sh 8   # also measure another build
#
# With BASELINE (e.g. a release build of main), the same figures are measured for it in the same
# command, each binary with its own state, and the ratios printed. CPU time is user+sys
# (`/usr/bin/time`), which stays meaningful on a busy machine.
#
# The corpus (about 140 MB of gzip logs a day at the default size) is kept in
# target/history-bench/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-30}
lines_per_object=${2:-85000}
first=2026-03-01
last=$(date -u -d "$first + $((days - 1)) days" +%F)
dir=target/history-bench
corpus=$dir/corpus
cargo build --quiet --release --bin greenlight-miner --example history_corpus
if [ ! -f "$corpus.done-$days-$lines_per_object" ]; then
  rm -rf "$corpus" "$corpus".done-*
  mkdir -p "$dir"
  target/release/examples/history_corpus --out "$corpus" --days "$days" \
    --first-day "$first" --lines-per-object "$lines_per_object" | tee "$dir/corpus.log"
  touch "$corpus.done-$days-$lines_per_object"
fi
export GREENLIGHT_QUIET=1

# measure NAME BINARY: prints the figures and leaves them in $dir/NAME.figures
measure() {
  local name=$1 bin=$2 state=$dir/state-$1
  rm -rf "$state"
  echo "== $name: range run $first..$last (every day mined, one list at the end)"
  /usr/bin/time -o "$dir/$name.range.time" -f '%e %U %S %M' "$bin" --logs "$corpus" \
    --from "$first" --to "$last" --state "$state" --out "$dir/$name-range.csv" \
    --report "$dir/$name-range.json" 2> >(tail -n 3 >&2)
  local bytes
  bytes=$(find "$state" -maxdepth 1 -name 'tally-*.glt' -printf '%s\n' | awk '{ s += $1 } END { print s }')
  echo "== $name: mining one day ($last) with the window in the state"
  /usr/bin/time -o "$dir/$name.day.time" -f '%e %U %S %M' "$bin" --logs "$corpus" \
    --date "$last" --state "$state" --out "$dir/$name-day.csv" --report "$dir/$name-day.json" \
    2> >(tail -n 3 >&2)
  read -r rw ru rs rm < "$dir/$name.range.time"
  read -r dw du ds dm < "$dir/$name.day.time"
  awk -v n="$name" -v d="$days" -v b="$bytes" -v rw="$rw" -v ru="$ru" -v rs="$rs" -v rm="$rm" \
      -v dw="$dw" -v du="$du" -v ds="$ds" -v dm="$dm" 'BEGIN {
    printf "%s: state %.1f MB a day (%d days); range run %.1f CPU-s (%.1f s wall, %d MB peak RSS); one day %.1f CPU-s (%.1f s wall, %d MB peak RSS)\n",
      n, b / 1e6 / d, d, ru + rs, rw, rm / 1024, du + ds, dw, dm / 1024
    print b / d, ru + rs, rm, du + ds, dm > "'"$dir"'/" n ".figures"
  }'
}

measure new target/release/greenlight-miner
if [ -n "${BASELINE:-}" ]; then
  measure baseline "$BASELINE"
  if cmp -s "$dir/new-day.csv" "$dir/baseline-day.csv"; then same=identical; else same=DIFFERENT; fi
  read -r nb nr nrm nd ndm < "$dir/new.figures"
  read -r bb br brm bd bdm < "$dir/baseline.figures"
  awk -v nb="$nb" -v nr="$nr" -v nrm="$nrm" -v nd="$nd" -v ndm="$ndm" \
      -v bb="$bb" -v br="$br" -v brm="$brm" -v bd="$bd" -v bdm="$bdm" 'BEGIN {
    printf "== new / baseline: state bytes a day %.2f, range-run CPU %.2f, range-run peak RSS %.2f, one-day CPU %.2f, one-day peak RSS %.2f\n",
      nb / bb, nr / br, nrm / brm, nd / bd, ndm / bdm
  }'
  echo "== lists of the one-day runs: $same"
fi
