#!/usr/bin/env bash
# Installs passkit-generator (an independent open-source pass library for
# Node.js) once, pinned, under ~/.cache/walletpass, and prints the
# directory the pass checks take as WALLETPASS_PASSKIT_GENERATOR:
#
#   export WALLETPASS_PASSKIT_GENERATOR="$(scripts/passkit-generator.sh)"
#
# Needs node and npm (Debian's nodejs and npm). No lockfile is written;
# the version is exact. Messages go to stderr; stdout has only the path.
set -euo pipefail
version=3.6.1
dir="${WALLETPASS_CACHE:-$HOME/.cache/walletpass}/passkit-generator-$version"
if [ ! -f "$dir/node_modules/passkit-generator/package.json" ]; then
	command -v npm >/dev/null 2>&1 || { echo "passkit-generator: needs npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	mkdir -p "$dir"
	echo "passkit-generator: installing $version into $dir" >&2
	npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --silent "passkit-generator@$version" >&2
fi
echo "$dir/node_modules/passkit-generator"
