#!/usr/bin/env bash
# Installs Azurite (npm azurite@3.35.0, the last release that runs on
# Node 20) into .tools/azurite if it is missing, and with "start" runs it on
# free loopback ports, writing its connection string to the file named by
# $AZURITE_ENV_FILE (default .tools/azurite.env) as AZURITE_CONNECTION_STRING=…
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/azurite/node_modules/.bin/azurite"

install() {
  if [ -x "$bin" ]; then return; fi
  command -v npm >/dev/null || { echo "azurite.sh: npm is required (Node.js 20)" >&2; exit 1; }
  mkdir -p "$tools/azurite"
  [ -f "$tools/azurite/package.json" ] || echo '{"name":"local-tools","private":true}' > "$tools/azurite/package.json"
  # Keep npm's download cache inside the work tree: nothing is assumed of the machine.
  npm_config_cache="$tools/npm-cache" npm install --prefix "$tools/azurite" --no-audit --no-fund --loglevel=error azurite@3.35.0 >&2
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "azurite.sh: no free port found" >&2; exit 1
}

start() {
  install
  local blob queue table dir pid
  # AZURITE_PORTS="10000 10001 10002" asks for fixed ports (blob queue table).
  if [ -n "${AZURITE_PORTS:-}" ]; then
    read -r blob queue table <<<"$AZURITE_PORTS"
  else
    blob=$(free_port); queue=$(free_port); table=$(free_port)
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/azurite.XXXXXX")
  "$bin" --silent --disableTelemetry --skipApiVersionCheck \
    --location "$dir" --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --blobPort "$blob" --queuePort "$queue" --tablePort "$table" >"$dir/azurite.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$table") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$queue") 2>/dev/null; then
      local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
      local conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"
      local out="${AZURITE_ENV_FILE:-$tools/azurite.env}"
      printf 'AZURITE_PID=%s\nAZURITE_CONNECTION_STRING="%s"\n' "$pid" "$conn" > "$out"
      echo "azurite: tables on 127.0.0.1:$table, queues on 127.0.0.1:$queue (pid $pid)" >&2
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/azurite.log" >&2; echo "azurite.sh: Azurite exited" >&2; exit 1; fi
    sleep 0.1
  done
  echo "azurite.sh: Azurite did not start in 10 s" >&2; kill "$pid" 2>/dev/null; exit 1
}

case "${1:-install}" in
  install) install ;;
  start) start ;;
  *) echo "usage: scripts/azurite.sh [install|start]" >&2; exit 2 ;;
esac
