# Shared by the build scripts (sourced, not run). `make test` builds the node's parts in the
# background while the test stages run, and a stage (or a test) may ask the same script for the
# same binaries meanwhile: hold_lock NAME makes the second run wait for the first, which it then
# finds in the cache, instead of building it a second time beside it.

# hold_lock NAME: an exclusive lock on NAME for the rest of the calling script.
hold_lock() {
  local dir=${MODELOPS_CACHE:-$HOME/.cache/modelops}
  mkdir -p "$dir"
  exec {MODELOPS_LOCK_FD}>"$dir/.$1.lock"
  flock "$MODELOPS_LOCK_FD"
}
