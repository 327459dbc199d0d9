#!/usr/bin/env bash
# Builds the deployable Functions package, dist/app.zip:
#
#   host.json
#   handler                  linux/amd64 static binary, mode 0755
#   <function>/function.json one folder per functions/<function>/function.json
#
# the layout the Functions host expects at the root of a custom handler app.
# Only function.json is copied from each function folder: the Go sources that
# live beside it are compiled into handler, never shipped.
#
# Environment:
#   MAIN_PKG  main package of the handler (default: . , the repository root)
#   DIST_DIR  output directory (default: <repo>/dist); the staged tree is left
#             in $DIST_DIR/app for inspection, the zip is $DIST_DIR/app.zip
#   ZIP_TOOL  zip or python3 (default: zip when installed, else python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/layout.sh
. "$root/scripts/layout.sh"
cd "$root"

main_pkg="${MAIN_PKG:-.}"
dist_dir="${DIST_DIR:-$root/dist}"
mkdir -p "$dist_dir"
dist_dir="$(cd "$dist_dir" && pwd)"
stage="$dist_dir/app"
zip_path="$dist_dir/app.zip"

if [[ -n "${ZIP_TOOL:-}" ]]; then
  zip_tool="$ZIP_TOOL"
elif command -v zip >/dev/null 2>&1; then
  zip_tool=zip
else
  zip_tool=python3
fi
case "$zip_tool" in
  zip | python3) command -v "$zip_tool" >/dev/null 2>&1 || { echo "package: $zip_tool not found" >&2; exit 1; } ;;
  *) echo "package: ZIP_TOOL must be zip or python3, not $zip_tool" >&2; exit 1 ;;
esac

rm -rf "$stage" "$zip_path"
mkdir -p "$stage"

echo "package: building $main_pkg for linux/amd64" >&2
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
  go build -trimpath -ldflags='-s -w' -o "$stage/handler" "$main_pkg"
chmod 0755 "$stage/handler"

stage_layout "$stage" package

case "$zip_tool" in
  zip)
    # -X leaves out uid/gid extra fields; the Unix mode (0755 for handler)
    # is kept in each entry's external attributes. -D: no directory entries.
    (cd "$stage" && zip -q -r -X -D "$zip_path" .)
    ;;
  python3)
    python3 - "$stage" "$zip_path" <<'PY'
import os
import sys
import zipfile

stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            # from_file records the Unix mode, so handler stays executable.
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, stage))
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
PY
    ;;
esac

echo "package: wrote $zip_path ($count functions)" >&2
