#!/usr/bin/env bash
# Builds a versioned release bundle of Codex Image Gateway:
#   <OUT_DIR>/codex-image-gateway-<release id>.tar.gz, holding one folder codex-image-gateway-<release id>/ with
#   bin/, dist/ (compiled, with dist/store/migrations/*.sql and the embedded database template), web/dist/ (the web console, bundled),
#   node_modules/ (production only),
#   package.json, package-lock.json, deploy/ (units, Caddyfiles, env example, activate.sh),
#   manifest.json (version, git revision, required schema version, build time) and SHA256SUMS.
# The release id is <version>-<short git revision>; a build from a tree with uncommitted changes
# gets -dirty.<UTC time> appended so two such builds never share an id.
# Prints the bundle's path as its last line. Install it on a host with deploy/activate.sh.
#
# Settings (environment):
#   OUT_DIR     where the bundle goes                 (default: <repo>/release)
#   RELEASE_ID  override the release id               (default: as above)
#   NODE, NPM, GIT, TAR, SHA256SUM                    commands used (default: from PATH)
set -euo pipefail
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE=${NODE:-node}
NPM=${NPM:-npm}
GIT=${GIT:-git}
TAR=${TAR:-tar}
SHA256SUM=${SHA256SUM:-sha256sum}
OUT_DIR=${OUT_DIR:-$repo/release}

say() { printf 'release: %s\n' "$*" >&2; }
die() { printf 'release: error: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/cig-release.XXXXXX")
trap 'rm -rf "$work"' EXIT

version=$("$NODE" -p 'require(process.argv[1]).version' "$repo/package.json")
revision=$("$GIT" -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=false
if [ "$revision" != unknown ] && [ -n "$("$GIT" -C "$repo" status --porcelain 2>/dev/null)" ]; then
  dirty=true
fi
built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ -z "${RELEASE_ID:-}" ]; then
  RELEASE_ID="$version-${revision:0:12}"
  [ "$dirty" = false ] || RELEASE_ID="$RELEASE_ID-dirty.$(date -u +%Y%m%dT%H%M%SZ)"
fi
[[ "$RELEASE_ID" =~ ^[0-9A-Za-z][0-9A-Za-z._-]*$ ]] || die "release id '$RELEASE_ID' must be letters, digits, '.', '_' or '-'"
name="codex-image-gateway-$RELEASE_ID"
stage="$work/$name"
say "building $name (revision $revision, dirty=$dirty)"

# Compile from a copy of the sources, with the repository's dev dependencies linked in, so the
# working tree (and its dist/, which bin/ would prefer) is never touched.
build="$work/build"
mkdir -p "$build"
cp -R "$repo/src" "$repo/bin" "$repo/package.json" "$repo/package-lock.json" "$repo/tsconfig.json" "$repo/tsconfig.build.json" "$build/"
[ -d "$repo/node_modules" ] || die "run npm ci in $repo first (the build needs the dev dependencies)"
ln -s "$repo/node_modules" "$build/node_modules"
(cd "$build" && "$NPM" run --silent build) >&2 || die "npm run build failed"
[ -f "$build/dist/store/migrations/0001_init.sql" ] || die "the build did not copy the migrations to dist/store/migrations"
[ -n "$(find "$build/dist/store/pglite-template" -name "pgdata-pglite-*.tar.gz" -print -quit 2>/dev/null)" ] || die "the build did not copy the embedded database template to dist/store/pglite-template"
# The web console (served by the control plane at /admin/ from web/dist, next to dist/).
mkdir -p "$build/web"
cp -R "$repo/web/src" "$repo/web/build.ts" "$repo/web/build-console.ts" "$build/web/"
(cd "$build" && "$NPM" run --silent build:web) >&2 || die "npm run build:web failed"
[ -f "$build/web/dist/index.html" ] || die "the console build did not write web/dist/index.html"

mkdir -p "$stage/deploy"
cp -R "$build/dist" "$build/bin" "$build/package.json" "$build/package-lock.json" "$stage/"
mkdir -p "$stage/web"
cp -R "$build/web/dist" "$stage/web/"
cp "$repo/deploy/codex-image-gateway.service" "$repo/deploy/codex-image-gateway@.service" "$repo/deploy/codex-image-gateway-control.service" \
  "$repo/deploy/Caddyfile" "$repo/deploy/Caddyfile.scale-out" "$repo/deploy/gateway.env.example" "$repo/deploy/activate.sh" "$stage/deploy/"
# --prefer-offline: the lockfile pins every version and its integrity hash, so packages already in
# npm's cache (the build machine has just installed them) need no round trip to the registry.
(cd "$stage" && "$NPM" ci --omit=dev --prefer-offline --no-audit --no-fund --no-bin-links --loglevel=error) >&2 || die "npm ci --omit=dev failed"
if [ -n "$(find "$stage" -type l -print -quit)" ]; then
  die "the staged tree holds symbolic links, which SHA256SUMS cannot vouch for"
fi

# The schema version the compiled app itself requires (the migrator's REQUIRED_SCHEMA_VERSION).
schema=$("$NODE" --input-type=module -e '
  import { pathToFileURL } from "node:url";
  const m = await import(pathToFileURL(process.argv[1]).href);
  process.stdout.write(String(m.REQUIRED_SCHEMA_VERSION));
' "$stage/dist/store/migrator.js") || die "could not read REQUIRED_SCHEMA_VERSION from the compiled app"
[[ "$schema" =~ ^[0-9]+$ ]] || die "unexpected required schema version '$schema'"

"$NODE" -e '
  const [file, version, revision, dirty, releaseId, schema, builtAt] = process.argv.slice(1);
  const manifest = {
    name: "codex-image-gateway",
    version,
    release_id: releaseId,
    git_revision: revision,
    git_dirty: dirty === "true",
    required_schema_version: Number(schema),
    built_at: builtAt,
    node_version: process.version,
  };
  require("node:fs").writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
' "$stage/manifest.json" "$version" "$revision" "$dirty" "$RELEASE_ID" "$schema" "$built_at"

(cd "$stage" && find . -type f ! -path ./SHA256SUMS -print0 | LC_ALL=C sort -z | xargs -0 "$SHA256SUM" > SHA256SUMS)

mkdir -p "$OUT_DIR"
bundle="$(cd "$OUT_DIR" && pwd)/$name.tar.gz"
"$TAR" -C "$work" --owner=0 --group=0 --numeric-owner -czf "$bundle.partial" "$name"
mv -f "$bundle.partial" "$bundle"
say "schema version $schema required; $(wc -l < "$stage/SHA256SUMS") files checksummed"
printf '%s\n' "$bundle"
