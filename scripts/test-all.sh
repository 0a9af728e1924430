#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing (apt packages, npm ci), builds,
# type-checks, runs the whole vitest suite and a quick benchmark smoke run.
# The project's own files install everything; nothing installed by hand is assumed.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# better-sqlite3 compiles from source where no prebuilt binary can be downloaded: it needs a C++ toolchain.
missing=()
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-all: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The browser e2e suite (e2e/) runs in Debian's Chromium: Playwright's browser download is unreachable here.
if [ ! -x /usr/bin/chromium ]; then
  echo "test-all: installing chromium"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# The postgres backend's tests start a real PostgreSQL 15 (test/servers/postgres-server.ts) and fail without it.
if [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then
  echo "test-all: installing postgresql-15"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15
fi

# The firestore backend's tests start the official Firestore emulator (a Java jar from Debian's
# google-cloud-cli-firestore-emulator package, present on these machines) and fail without it.
if ! command -v java >/dev/null; then
  echo "test-all: installing a Java runtime for the Firestore emulator"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless
fi
if [ ! -f /usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar ]; then
  echo "test-all: installing the Firestore emulator"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq google-cloud-cli-firestore-emulator \
    || { echo "test-all: the Firestore emulator is missing and could not be installed (package google-cloud-cli-firestore-emulator)"; exit 1; }
fi

# Not `npm ci`: the registry reachable here serves only this platform's optional packages (rollup's
# and esbuild's binaries for other systems answer 404), so the lockfile cannot list them and npm ci
# refuses it. `npm install` installs the lockfile's versions all the same.
npm install --no-audit --no-fund
node -e "require('better-sqlite3')" || { echo "test-all: better-sqlite3 did not build"; exit 1; }

# Build first: the e2e page imports the built browser bundle, so type-checking needs dist/.
npm run build
npm run typecheck

mkdir -p .tmp
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.tmp/vitest.json || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".tmp/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (r.numTotalTests === 0) { console.log("test-all: no test ran"); process.exit(1); }
' || status=1

npm run bench -- --quick --out .tmp/bench || status=1
exit $status
