#!/usr/bin/env bash
# Runs every Go fuzz target of the project for FUZZTIME each (default 5s):
# the host payload decoder, the queue message and ticket command decoders,
# the local queue envelope, the webhook signature checks. Their seed corpora
# live in each package's testdata/fuzz and also run in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== fuzz $pkg $target ($fuzztime)"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -parallel=2 "$pkg"; then
      status=1
    fi
  done
done
exit $status
