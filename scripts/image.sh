#!/usr/bin/env bash
# Builds the walletpass container image offline: a static binary built
# here (pure-Go SQLite, the time zone database built in) on an empty image
# (deploy/Dockerfile.prebuilt), with this machine's CA certificates.
# With -run, starts it and checks that it serves (/healthz, /readyz, a
# signed sample pass, /metrics on the admin port), then removes it.
# Usage: scripts/image.sh [-run] [tag]   (podman, or docker when present)
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"   # go.mod asks for it
cd "$(dirname "$0")/.."
run=false
if [ "${1:-}" = "-run" ]; then run=true; shift; fi
tag="${1:-walletpass:dev}"
engine="$(command -v podman || true)"
if [ -z "$engine" ] && docker info >/dev/null 2>&1; then
	engine="$(command -v docker)"
fi
if [ -z "$engine" ]; then
	echo "image: needs podman, or docker with a running daemon" >&2
	exit 1
fi
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -buildvcs=auto -tags timetzdata -ldflags "-s -w" -o "$ctx/walletpass" ./cmd/walletpass
cp deploy/Dockerfile.prebuilt "$ctx/Dockerfile"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
mkdir "$ctx/data"
"$engine" build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag ($("$engine" image inspect -f '{{.Size}}' "$tag") bytes) with $(basename "$engine")"
if ! $run; then
	exit 0
fi
name="walletpass-check-$$"
port=$((20000 + RANDOM % 20000))
"$engine" run -d --rm --name "$name" -p "127.0.0.1:$port:8080" -p "127.0.0.1:$((port + 1)):9464" \
	-e WALLETPASS_PUBLIC_BASE_URL="http://127.0.0.1:$port" "$tag" >/dev/null
trap '"$engine" rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$ctx"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
	curl -fsS "$base/healthz" >/dev/null 2>&1 && break
	sleep 0.2
done
echo "user: $("$engine" inspect -f '{{.Config.User}}' "$name"), $("$engine" exec "$name" /walletpass version)"
echo "healthz: $(curl -fsS "$base/healthz")"
echo "readyz: $(curl -fsS "$base/readyz")"
curl -fsS -o "$ctx/sample.pkpass" "$base/api/demo/preview/default?kind=concert"
echo "sample pass: $(wc -c < "$ctx/sample.pkpass") bytes, signed: $(unzip -l "$ctx/sample.pkpass" | grep -c ' signature$') signature"
echo "admin /metrics: $(curl -fsS "http://127.0.0.1:$((port + 1))/metrics" | grep -c '^walletpass_') walletpass_ samples"
echo "public /metrics: $(curl -sS -o /dev/null -w '%{http_code}' "$base/metrics") (metrics are on the admin port only)"
