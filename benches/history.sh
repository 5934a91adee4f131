#!/usr/bin/env bash
# The retention window at scale: 30 generated days of about 1 million distinct URLs each
# (nearly disjoint long tails, so about 30 million over the window), mined with one range run;
# then the disk size of the state and the peak memory of mining one such day (the last, with
# the 29 days before it in the state: scan + tally + writing the day + reading the whole window
# back + sampling).
#
#   bash benches/history.sh [DAYS] [LINES_PER_OBJECT]
#
# The corpus (about 140 MB of gzip logs a day) is kept in target/history-bench/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-30}
lines_per_object=${2:-85000}
first=2026-03-01
last=$(date -u -d "$first + $((days - 1)) days" +%F)
dir=target/history-bench
corpus=$dir/corpus
state=$dir/state
cargo build --quiet --release --bin greenlight-miner --example history_corpus
if [ ! -f "$corpus.done-$days-$lines_per_object" ]; then
  rm -rf "$corpus" "$corpus".done-*
  mkdir -p "$dir"
  target/release/examples/history_corpus --out "$corpus" --days "$days" \
    --first-day "$first" --lines-per-object "$lines_per_object" | tee "$dir/corpus.log"
  touch "$corpus.done-$days-$lines_per_object"
fi
rm -rf "$state"
export GREENLIGHT_QUIET=1
echo "== range run $first..$last (every day mined, one list at the end)"
/usr/bin/time -f '%e s wall, %M KB peak RSS' target/release/greenlight-miner --logs "$corpus" \
  --from "$first" --to "$last" --state "$state" --out "$dir/list.csv" --report "$dir/range.json" \
  2> >(tail -n 20 >&2)
echo "== state on disk"
ls -l "$state" | tail -n +2 | awk '{ s += $5; n++ } END { printf "%d day files, %.1f MB (%.1f MB a day)\n", n, s/1e6, s/1e6/n }'
du -sh "$state"
echo "== mining one day ($last) with the window in the state"
/usr/bin/time -f '%e s wall, %M KB peak RSS' target/release/greenlight-miner --logs "$corpus" \
  --date "$last" --state "$state" --out "$dir/list.csv" --report "$dir/day.json" \
  2> >(tail -n 22 >&2)
