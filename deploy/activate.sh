#!/usr/bin/env bash
# Installs a release bundle (from deploy/release.sh) on this host and switches to it:
#   activate.sh BUNDLE.tar.gz [image|control|all]      (default target: image)
#
#  1. unpacks the bundle into a hidden temp folder under <PREFIX>/releases and verifies SHA256SUMS
#     (every file listed, nothing extra, no links): a corrupted bundle is refused before anything changes;
#  2. asks the database (through the bundle's own CLI, `migrate status --json`, with DATABASE_URL
#     from the env file) for its schema version and refuses a bundle that needs a newer one, unless
#     MIGRATE=1 with target control|all, which applies the migrations first;
#  3. renames the folder to <PREFIX>/releases/<release id> (never half-installed);
#  4. points <PREFIX>/current at it atomically (temporary symlink + mv -T);
#  5. restarts only the selected unit(s): image = the data plane, control = the control plane, all = both;
#  6. polls readiness, and stops waiting as soon as a unit's process has exited (systemd shows it
#     failed or waiting to auto-restart: a release that crashes at start is rolled back in seconds,
#     not after READY_TIMEOUT_S); on failure points current back at the previous release, restarts
#     the same unit(s), checks again, and reports what happened (exit 1; exit 2 if the rollback fails too);
#  7. keeps the newest KEEP_RELEASES releases (never the current or the previous one).
#
# Settings (environment), all overridable so the flow runs without systemd:
#   PREFIX=/opt/codex-image-gateway        releases/, current, previous live here
#   ENV_FILE=/etc/codex-image-gateway/gateway.env        read for DATABASE_URL
#   CONTROL_ENV_FILE=/etc/codex-image-gateway/control.env  optional; its DATABASE_URL wins
#   SYSTEMCTL=systemctl  NODE=node  TAR=tar  SHA256SUM=sha256sum  FLOCK=flock
#   IMAGE_UNIT=codex-image-gateway.service  CONTROL_UNIT=codex-image-gateway-control.service
#   READY_URL=http://127.0.0.1:19082/readyz              data plane: must answer 2xx
#   CONTROL_READY_URL=http://127.0.0.1:19083/admin/api/health  control plane: any answer below 500
#   READY_TIMEOUT_S=60  READY_INTERVAL_S=0.5  KEEP_RELEASES=5  MIGRATE=0
#   UNIT_DIR=/etc/systemd/system           where installed unit files are compared with the bundle's
set -euo pipefail
umask 022

PREFIX=${PREFIX:-/opt/codex-image-gateway}
ENV_FILE=${ENV_FILE:-/etc/codex-image-gateway/gateway.env}
CONTROL_ENV_FILE=${CONTROL_ENV_FILE:-/etc/codex-image-gateway/control.env}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
NODE=${NODE:-node}
TAR=${TAR:-tar}
SHA256SUM=${SHA256SUM:-sha256sum}
FLOCK=${FLOCK:-flock}
IMAGE_UNIT=${IMAGE_UNIT:-codex-image-gateway.service}
CONTROL_UNIT=${CONTROL_UNIT:-codex-image-gateway-control.service}
READY_URL=${READY_URL:-http://127.0.0.1:19082/readyz}
CONTROL_READY_URL=${CONTROL_READY_URL:-http://127.0.0.1:19083/admin/api/health}
READY_TIMEOUT_S=${READY_TIMEOUT_S:-60}
READY_INTERVAL_S=${READY_INTERVAL_S:-0.5}
KEEP_RELEASES=${KEEP_RELEASES:-5}
MIGRATE=${MIGRATE:-0}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}

say() { printf 'activate: %s\n' "$*"; }
warn() { printf 'activate: warning: %s\n' "$*" >&2; }
die() { printf 'activate: error: %s\n' "$*" >&2; exit 1; }

usage() {
  printf 'usage: %s BUNDLE.tar.gz [image|control|all]\n' "$0" >&2
  exit 64
}

incoming=""
cleanup() { if [ -n "$incoming" ]; then rm -rf "$incoming"; fi; }
trap cleanup EXIT

# ---- arguments and settings ------------------------------------------------------------------

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
bundle=$1
target=${2:-image}
case $target in
  image) units=("$IMAGE_UNIT") ;;
  control) units=("$CONTROL_UNIT") ;;
  all) units=("$CONTROL_UNIT" "$IMAGE_UNIT") ;;
  *) usage ;;
esac
[ -f "$bundle" ] || die "bundle $bundle not found"
[[ "$KEEP_RELEASES" =~ ^[1-9][0-9]*$ ]] || die "KEEP_RELEASES must be a whole number of at least 1"
[[ "$READY_TIMEOUT_S" =~ ^[0-9]+$ ]] || die "READY_TIMEOUT_S must be a whole number of seconds"
if [ "$MIGRATE" = 1 ] && [ "$target" = image ]; then
  die "MIGRATE=1 needs target control or all: the data plane never migrates"
fi
[ -r "$ENV_FILE" ] || die "env file $ENV_FILE not readable (set ENV_FILE)"

# ---- helpers ---------------------------------------------------------------------------------

# The last KEY=value of KEY across the given env files (missing files skipped), quotes removed.
read_env_value() {
  local key=$1 value="" line file
  shift
  for file in "$@"; do
    [ -r "$file" ] || continue
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line#"${line%%[![:space:]]*}"}
      case $line in "$key="*) value=${line#"$key="} ;; esac
    done < "$file"
  done
  value=${value%"${value##*[![:space:]]}"}
  if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
  printf '%s' "$value"
}

# systemctl, without the activation lock's descriptor (a started process must not inherit it).
run_systemctl() { "$SYSTEMCTL" "$@" 9>&-; }

# One field of a release's manifest.json.
manifest_field() {
  "$NODE" -e 'const m = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")); const v = m[process.argv[2]]; if (v === undefined || v === null) process.exit(1); process.stdout.write(String(v));' "$1/manifest.json" "$2"
}

# Every file listed with a matching checksum, nothing unlisted, nothing but files and folders.
verify_checksums() {
  local dir=$1
  if [ ! -f "$dir/SHA256SUMS" ] || [ ! -f "$dir/manifest.json" ]; then
    warn "bundle has no SHA256SUMS or manifest.json"
    return 1
  fi
  if [ -n "$(cd "$dir" && find . ! -type f ! -type d -print -quit)" ]; then
    warn "bundle holds links or special files"
    return 1
  fi
  (cd "$dir" && "$SHA256SUM" --check --quiet --strict SHA256SUMS) >&2 || { warn "checksum mismatch"; return 1; }
  local listed present
  listed=$(sed -E 's/^[0-9a-f]{64}  //' "$dir/SHA256SUMS" | LC_ALL=C sort)
  present=$(cd "$dir" && find . -type f ! -path ./SHA256SUMS | LC_ALL=C sort)
  [ "$listed" = "$present" ] || { warn "files present that SHA256SUMS does not list"; return 1; }
}

# Highest applied migration in the database, asked through the release's own CLI.
database_schema_version() {
  local dir=$1 url=$2 status
  status=$(cd "$dir" && env -i PATH="$PATH" HOME="${HOME:-/}" DATABASE_URL="$url" "$NODE" bin/codex-image-gateway.js migrate status --json) ||
    die "could not read the database's migration status with the bundle's CLI (is DATABASE_URL in $ENV_FILE reachable?)"
  printf '%s' "$status" | "$NODE" -e '
    let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => {
      const rows = JSON.parse(text);
      process.stdout.write(String(rows.filter((r) => r.applied).reduce((max, r) => Math.max(max, r.version), 0)));
    });'
}

# Refuses a release that needs a newer schema than the database has (or migrates, with MIGRATE=1).
check_schema() {
  local dir=$1 required=$2 url current
  url=$(read_env_value DATABASE_URL "$ENV_FILE" "$CONTROL_ENV_FILE")
  [ -n "$url" ] || die "no DATABASE_URL in $ENV_FILE: the units run on Postgres"
  current=$(database_schema_version "$dir" "$url")
  if [ "$required" -le "$current" ]; then
    say "database schema version $current; this release needs $required: ok"
    return 0
  fi
  if [ "$MIGRATE" != 1 ]; then
    die "this release needs database schema version $required but the database is at $current; nothing was changed. Apply the migrations with the control plane first: MIGRATE=1 $0 $bundle control (or run its 'codex-image-gateway migrate' with the control plane's DATABASE_URL), then activate the data plane"
  fi
  say "database schema version $current; applying migrations up to $required (MIGRATE=1)"
  (cd "$dir" && env -i PATH="$PATH" HOME="${HOME:-/}" DATABASE_URL="$url" "$NODE" bin/codex-image-gateway.js migrate) || die "migrate failed"
  current=$(database_schema_version "$dir" "$url")
  [ "$required" -le "$current" ] || die "database schema is still at $current after migrate; this release needs $required"
}

# Points PREFIX/current (or another link) at a release, atomically.
switch_link() {
  local link=$1 destination=$2 tmp
  tmp="$PREFIX/.$link.tmp.$$"
  ln -sfn "$destination" "$tmp"
  mv -T "$tmp" "$PREFIX/$link"
}

# True once the unit's process has exited since it was started: systemd shows it failed, stopped,
# or waiting out RestartSec before an automatic restart. Such a unit cannot become ready.
unit_exited() {
  local state
  state=$(run_systemctl show --property=ActiveState,SubState --value "$1" 2> /dev/null | tr '\n' ' ') || return 1
  case " $state " in
    *" failed "* | *" inactive "* | *" auto-restart "*) return 0 ;;
    *) return 1 ;;
  esac
}

# Polls a URL until it answers well (mode ok: 2xx; mode up: any status below 500), the unit's
# process exits (return 2), or time runs out (return 1).
wait_ready() {
  local unit=$1 url=$2 mode=$3 deadline=$((SECONDS + READY_TIMEOUT_S))
  while :; do
    if "$NODE" -e '
      const [url, mode] = process.argv.slice(1);
      fetch(url, { signal: AbortSignal.timeout(2000) }).then(
        (r) => process.exit((mode === "ok" ? r.ok : r.status < 500) ? 0 : 1),
        () => process.exit(1));' "$url" "$mode"; then
      return 0
    fi
    if unit_exited "$unit"; then return 2; fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep "$READY_INTERVAL_S"
  done
}

ready_check_of() {
  case $1 in
    "$IMAGE_UNIT") printf '%s ok' "$READY_URL" ;;
    *) printf '%s up' "$CONTROL_READY_URL" ;;
  esac
}

# Restarts the selected units and checks each one's readiness; prints what failed.
restart_and_check() {
  local unit url mode
  for unit in "${units[@]}"; do
    say "restarting $unit (a running data plane first finishes its in-flight generations)"
    run_systemctl restart "$unit" || { warn "$SYSTEMCTL restart $unit failed"; return 1; }
  done
  for unit in "${units[@]}"; do
    read -r url mode <<< "$(ready_check_of "$unit")"
    local outcome=0
    wait_ready "$unit" "$url" "$mode" || outcome=$?
    if [ "$outcome" -ne 0 ]; then
      if [ "$outcome" -eq 2 ]; then
        warn "$unit exited before it was ready ($url)"
      else
        warn "$unit not ready after ${READY_TIMEOUT_S}s ($url)"
      fi
      run_systemctl status --no-pager --lines=20 "$unit" >&2 || true
      return 1
    fi
    say "$unit ready ($url)"
  done
}

# Notes unit files that differ from the ones in the release (units are installed by hand: see docs).
check_unit_files() {
  local dir=$1 unit file
  for unit in "${units[@]}"; do
    case $unit in
      "$IMAGE_UNIT") file=codex-image-gateway.service ;;
      *) file=codex-image-gateway-control.service ;;
    esac
    if [ ! -f "$UNIT_DIR/$unit" ]; then
      warn "$UNIT_DIR/$unit is not installed (copy it from $dir/deploy/$file)"
    elif ! cmp -s "$UNIT_DIR/$unit" "$dir/deploy/$file"; then
      warn "$UNIT_DIR/$unit differs from $dir/deploy/$file; review, copy and run '$SYSTEMCTL daemon-reload' if the change is wanted"
    fi
  done
}

# Keeps the newest KEEP_RELEASES release folders (by install time), never current or previous.
prune_releases() {
  local keep=() kept=0 name
  keep+=("$(basename "$(readlink "$PREFIX/current" 2> /dev/null || true)")")
  keep+=("$(basename "$(readlink "$PREFIX/previous" 2> /dev/null || true)")")
  while read -r _ name; do
    kept=$((kept + 1))
    if [ "$kept" -le "$KEEP_RELEASES" ] || [[ " ${keep[*]} " == *" $name "* ]]; then continue; fi
    say "removing old release $name"
    rm -rf "${PREFIX:?}/releases/$name"
  done < <(find "$PREFIX/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' | sort -rn)
}

# Puts the previous release back after a failed activation and reports the outcome.
roll_back() {
  local failed=$1 previous=$2
  if [ -z "$previous" ]; then
    warn "no previous release to roll back to: removing $PREFIX/current and stopping ${units[*]}"
    rm -f "$PREFIX/current"
    run_systemctl stop "${units[@]}" || true
    die "activation of $failed failed (first install); nothing is running"
  fi
  warn "activation of $failed failed; rolling back to $(basename "$previous")"
  switch_link current "$previous"
  if restart_and_check; then
    printf 'activate: error: activation of %s failed readiness and was rolled back; %s is current and ready\n' "$failed" "$(basename "$previous")" >&2
    exit 1
  fi
  printf 'activate: error: ROLLBACK FAILED: %s is current again but not ready either; see %s status / journalctl -u %s\n' \
    "$(basename "$previous")" "$SYSTEMCTL" "${units[*]}" >&2
  exit 2
}

# ---- activation ------------------------------------------------------------------------------

mkdir -p "$PREFIX/releases"
exec 9> "$PREFIX/.activate.lock"
"$FLOCK" -n 9 || die "another activation is running (lock $PREFIX/.activate.lock)"
# Leftovers of an activation that was killed are never part of any release.
rm -rf "$PREFIX"/releases/.incoming.* "$PREFIX"/.current.tmp.* "$PREFIX"/.previous.tmp.*

incoming=$(mktemp -d "$PREFIX/releases/.incoming.XXXXXX")
"$TAR" -xzf "$bundle" -C "$incoming" --strip-components=1 --no-same-owner --no-same-permissions ||
  die "cannot unpack $bundle; nothing was changed"
verify_checksums "$incoming" || die "bundle $bundle failed verification; nothing was changed"

release_id=$(manifest_field "$incoming" release_id) || die "manifest.json has no release_id"
required=$(manifest_field "$incoming" required_schema_version) || die "manifest.json has no required_schema_version"
[[ "$release_id" =~ ^[0-9A-Za-z][0-9A-Za-z._-]*$ ]] || die "manifest release_id '$release_id' is not a plain name"
[[ "$required" =~ ^[0-9]+$ ]] || die "manifest required_schema_version '$required' is not a number"
say "bundle $release_id verified (needs schema version $required; target $target: ${units[*]})"

previous=$(readlink "$PREFIX/current" 2> /dev/null || true)
release_dir="$PREFIX/releases/$release_id"
if [ "$(basename "$previous")" = "$release_id" ]; then
  say "$release_id is already current; nothing to do (restart the units with $SYSTEMCTL if needed)"
  exit 0
fi

check_schema "$incoming" "$required"

if [ -e "$release_dir" ]; then
  cmp -s "$release_dir/SHA256SUMS" "$incoming/SHA256SUMS" ||
    die "$release_dir exists with different contents; refusing to replace an installed release"
  say "$release_id is already installed with the same contents; reusing it"
  rm -rf "$incoming"
else
  mv -T "$incoming" "$release_dir"
fi
incoming=""
touch "$release_dir"
check_unit_files "$release_dir"

switch_link current "releases/$release_id"
say "current -> releases/$release_id${previous:+ (was $previous)}"
if ! restart_and_check; then
  roll_back "$release_id" "$previous"
fi
if [ -n "$previous" ]; then switch_link previous "$previous"; fi
prune_releases
say "activated $release_id for ${units[*]}${previous:+; previous release: $(basename "$previous")}"
