#!/usr/bin/env bash
# Runs every Go fuzz target of the project for FUZZTIME each (default
# 10000x, ten thousand inputs): the host payload decoder, the queue message
# and ticket command decoders, the local queue envelope, the webhook
# signature checks. Their seed corpora live in each package's testdata/fuzz
# and also run in every `go test`.
#
# The budget is a count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own stop deadline as a failure ("context
# deadline exceeded", no input written) when a worker is busy as the time
# runs out (golang/go#75804, fixed in Go 1.27). A count never races a clock.
# FUZZTIME=30s still works for a longer local run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10000x}
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
