# Sourced by package.sh and func-start.sh: the layout the Functions host
# reads, host.json at the root and <function>/function.json beside it.
# stage_layout DIR WHO copies them into DIR and sets count to the number of
# functions; WHO names the caller in errors.
stage_layout() {
  local dir=$1 who=$2 fj name
  count=0
  cp host.json "$dir/host.json"
  chmod 0644 "$dir/host.json"
  for fj in functions/*/function.json; do
    [[ -f "$fj" ]] || continue
    name="$(basename "$(dirname "$fj")")"
    mkdir -p "$dir/$name"
    cp "$fj" "$dir/$name/function.json"
    chmod 0644 "$dir/$name/function.json"
    count=$((count + 1))
  done
  if [[ "$count" -eq 0 ]]; then
    echo "$who: no functions/*/function.json found" >&2
    return 1
  fi
}
