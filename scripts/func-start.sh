#!/usr/bin/env bash
# Stages the app in the layout Azure Functions Core Tools expect, so that
# `func start` can run it, and prints how:
#
#   <dir>/host.json
#   <dir>/<function>/function.json   one folder per functions/<function>/function.json
#   <dir>/<executable>               the handler, built for this machine, at the
#                                    path host.json's
#                                    customHandler.description.defaultExecutablePath
#                                    names, mode 0755
#   <dir>/local.settings.json        the settings Core Tools read
#
# It is the layout of dist/app.zip (scripts/package.sh) with a handler for
# this machine instead of linux/amd64, plus local.settings.json. Core Tools
# are not needed to stage, only to run: `cd <dir> && func start`.
#
# Environment:
#   FUNC_DIR        where to stage (default: <repo>/.local/func). It is emptied
#                   first, so it must be missing, empty or a folder this script
#                   staged before (it leaves a .func-start marker there).
#   LOCAL_SETTINGS  a local.settings.json to stage. Default: the one staged
#                   before, kept as edited there, or else
#                   <repo>/local.settings.sample.json (a real Service Bus,
#                   the tables and the host's storage, all by identity; fill
#                   in its placeholders in <dir>/local.settings.json).
#                   local.settings.local.sample.json is the Azurite and
#                   simulator mode of cmd/devhost (`make run`): Core Tools
#                   cannot trigger the queue functions from it.
#   MAIN_PKG        main package of the handler (default: . , the repository root)
#   GOOS, GOARCH    the handler's platform (default: this machine's)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/layout.sh
. "$root/scripts/layout.sh"
# FUNC_DIR and LOCAL_SETTINGS are relative to where the script is run from.
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
stage="$(abs "${FUNC_DIR:-$root/.local/func}")"
[[ -z "${LOCAL_SETTINGS:-}" ]] || LOCAL_SETTINGS="$(abs "$LOCAL_SETTINGS")"
cd "$root"

main_pkg="${MAIN_PKG:-.}"
marker=".func-start"

# Refuse to empty a folder this script did not make.
if [[ -d "$stage" && ! -f "$stage/$marker" ]] && [[ -n "$(ls -A "$stage")" ]]; then
  echo "func-start: $stage is not empty and was not staged by this script; choose another FUNC_DIR" >&2
  exit 1
fi

kept=""
if [[ -n "${LOCAL_SETTINGS:-}" ]]; then
  settings="$LOCAL_SETTINGS"
  [[ -f "$settings" ]] || { echo "func-start: LOCAL_SETTINGS $settings not found" >&2; exit 1; }
  from="$settings"
elif [[ -f "$stage/local.settings.json" ]]; then
  kept="$(mktemp)"
  trap 'rm -f "$kept"' EXIT
  cp "$stage/local.settings.json" "$kept"
  settings="$kept"
  from="the folder's own, kept"
else
  settings="$root/local.settings.sample.json"
  from="local.settings.sample.json"
fi

# customHandler.description.defaultExecutablePath of host.json: the one
# "defaultExecutablePath" key of the file.
exe="$(sed -n 's/.*"defaultExecutablePath"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' host.json | head -n 1)"
if [[ -z "$exe" ]]; then
  echo "func-start: host.json names no customHandler.description.defaultExecutablePath" >&2
  exit 1
fi
case "$exe" in
  /* | *..*) echo "func-start: defaultExecutablePath $exe must be a path inside the app folder" >&2; exit 1 ;;
esac

rm -rf "$stage"
mkdir -p "$stage"
stage="$(cd "$stage" && pwd)"
: >"$stage/$marker"

goos="${GOOS:-$(go env GOOS)}"
goarch="${GOARCH:-$(go env GOARCH)}"
echo "func-start: building $main_pkg for $goos/$goarch into $exe" >&2
mkdir -p "$(dirname "$stage/$exe")"
CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" go build -trimpath -o "$stage/$exe" "$main_pkg"
chmod 0755 "$stage/$exe"

stage_layout "$stage" func-start

cp "$settings" "$stage/local.settings.json"
chmod 0600 "$stage/local.settings.json" # it may hold secrets
if command -v python3 >/dev/null 2>&1; then
  python3 - "$stage/local.settings.json" <<'PY' || exit 1
import json
import sys

path = sys.argv[1]
try:
    with open(path) as f:
        doc = json.load(f)
except ValueError as e:
    sys.exit("func-start: %s is not JSON: %s" % (path, e))
if doc.get("IsEncrypted") is not False:
    sys.exit("func-start: %s: IsEncrypted must be false" % path)
values = doc.get("Values")
if not isinstance(values, dict):
    sys.exit("func-start: %s: Values must be an object" % path)
if values.get("FUNCTIONS_WORKER_RUNTIME") != "custom":
    sys.exit("func-start: %s: Values.FUNCTIONS_WORKER_RUNTIME must be custom" % path)
PY
fi

where="$stage"
[[ "$stage" == "$root/"* ]] && where="${stage#"$root/"}"
cat <<EOF
func-start: staged $count functions, host.json, $exe ($goos/$goarch) and local.settings.json ($from) in $where

Run it with Azure Functions Core Tools v4 (https://aka.ms/func-install):

  cd $where && func start

The app is then on http://localhost:7071/api/. Run \`make func-start\` again
after changing the code, host.json or a function.json: $where/local.settings.json
is kept as you edit it (LOCAL_SETTINGS=<file> stages another one).
EOF
if grep -q '<[^>"]*>' "$stage/local.settings.json"; then
  echo "func-start: some settings are still placeholders (<...>): fill them in $where/local.settings.json" >&2
fi
