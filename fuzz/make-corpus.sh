#!/usr/bin/env bash
# Writes the seed corpora into fuzz/corpus/<target>/ (not committed; libFuzzer adds what it
# finds there): the hand-written tricky seeds in fuzz/seeds/<target>/, every fuzz finding in
# fixtures/fuzz/<target>/, and seeds cut from the shipped fixtures:
#   parse_line  every 4th line of fixtures/alb/**/*.log.gz (without its newline)
#   normalize   the request URL of those lines, behind an options byte ('0' drop tracking
#               parameters, '1' keep them)
#   read_list   fixtures/nginx/list.csv
# Idempotent: a second run rewrites the same files.
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C

for target in parse_line normalize read_list; do
  mkdir -p "corpus/$target"
  for dir in "seeds/$target" "../fixtures/fuzz/$target"; do
    if [ -d "$dir" ]; then
      cp "$dir"/* "corpus/$target/"
    fi
  done
done

find ../fixtures/alb -name '*.log.gz' | sort | xargs zcat | awk '
  NR % 4 == 1 {
    n++
    printf "%s", $0 > sprintf("corpus/parse_line/fixture-%05d", n)
    close(sprintf("corpus/parse_line/fixture-%05d", n))
    split($0, q, "\"")
    request = q[2]
    sub(/^[^ ]* /, "", request)
    sub(/ [^ ]*$/, "", request)
    if (request != "") {
      printf "%d%s", n % 2, request > sprintf("corpus/normalize/fixture-%05d", n)
      close(sprintf("corpus/normalize/fixture-%05d", n))
    }
  }'
cp ../fixtures/nginx/list.csv corpus/read_list/fixture-nginx-list.csv

for target in parse_line normalize read_list; do
  echo "fuzz/corpus/$target: $(find "corpus/$target" -type f | wc -l) seeds"
done
