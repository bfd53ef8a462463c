# Sourced by the build scripts: moves freshly built output into place without ever exposing a
# half-written file, and without touching what did not change. `npm start` and the tests build
# while other tests read build/ and pkg/ (scripts/test.sh runs its lanes side by side): a file
# that is rewritten with the same bytes, or replaced in two steps, can be read empty or torn.

# publish_file SRC DEST: DEST becomes SRC's bytes (copy beside it, then one rename), only if
# they differ. SRC is left in place.
publish_file() {
  local src=$1 dest=$2
  cmp -s "$src" "$dest" && return 0
  mkdir -p "$(dirname "$dest")"
  cp "$src" "$dest.publish.$$"
  mv -f "$dest.publish.$$" "$dest"
}

# publish_files STAGE DEST: every file of the tree STAGE is published under DEST as above; DEST's
# other files stay.
publish_files() {
  local stage=$1 dest=$2 f
  while IFS= read -r -d '' f; do
    publish_file "$stage/$f" "$dest/$f"
  done < <(cd "$stage" && find . -type f -print0)
}

# publish_dir STAGE DEST: DEST becomes the tree STAGE (which is consumed): left alone when both
# hold the same files with the same bytes; otherwise every changed file is published as above and
# files DEST has but STAGE does not are removed.
publish_dir() {
  local stage=$1 dest=$2 f
  if [ -d "$dest" ] && diff -rq "$stage" "$dest" >/dev/null 2>&1; then
    rm -rf "$stage"
    return 0
  fi
  publish_files "$stage" "$dest"
  if [ -d "$dest" ]; then
    while IFS= read -r -d '' f; do
      [ -e "$stage/$f" ] || rm -f "$dest/$f"
    done < <(cd "$dest" && find . -type f -print0)
  fi
  rm -rf "$stage"
}
