#!/usr/bin/env bash
# Scans the module for known vulnerabilities that its code can reach, offline:
# the database is built from the golang.org/x/vulndb module (its OSV files,
# indexed by that module's own indexdb command) and govulncheck reads it from
# disk. Exits non-zero when a reachable vulnerability is found.
#
# Pinned versions; raise VULNDB_VERSION to scan against newer reports.
# The built database is kept in ${XDG_CACHE_HOME:-~/.cache}/walletpass/ per
# version, so a second run only scans.
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
VULN_VERSION="${VULN_VERSION:-v1.9.0}"
VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/walletpass"
db="$cache/vulndb-$VULNDB_VERSION"

if [ ! -s "$db/index/db.json" ]; then
	echo "== building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION" >&2
	src="$("$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	if [ -z "$src" ] || [ ! -d "$src/data/osv" ]; then
		echo "vuln: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv directory" >&2
		exit 1
	fi
	mkdir -p "$cache"
	tmp="$(mktemp -d "$cache/vulndb-build.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	"$GO" run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$tmp/db"
	rm -rf "$db"
	mv "$tmp/db" "$db"
fi

echo "== govulncheck $VULN_VERSION with $("$GO" env GOVERSION), database golang.org/x/vulndb@$VULNDB_VERSION" >&2
exec "$GO" run "golang.org/x/vuln/cmd/govulncheck@$VULN_VERSION" -db "file://$db" "$@" ./...
