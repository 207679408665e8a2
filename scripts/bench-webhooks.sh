#!/usr/bin/env bash
# Webhook acknowledgements on the embedded default (SQLite) and on
# PostgreSQL against a bare Gin handler answering 200, with the same load
# generator in the same run, interleaved over rounds; then the latency at a
# fixed 1,000 requests/s. PostgreSQL comes from scripts/ci-postgres.sh (a
# fresh schema per run).
# Usage: scripts/bench-webhooks.sh [rounds] [seconds-per-run]
set -euo pipefail
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"   # go.mod asks for it
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-5}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/walletpass" ./cmd/walletpass
go build -o "$tmp/baregin" ./tools/baregin
go build -o "$tmp/loadgen" ./tools/loadgen
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wp=127.0.0.1:$(port); bg=127.0.0.1:$(port); pg=127.0.0.1:$(port)
WALLETPASS_LISTEN=$wp WALLETPASS_DATA_DIR="$tmp/data" "$tmp/walletpass" serve >/dev/null 2>"$tmp/wp.log" & pids+=($!)
dsn=$(scripts/ci-postgres.sh)
schema=bench_$$_$RANDOM
psql -q "$dsn" -c "CREATE SCHEMA $schema"
trap 'cleanup; psql -q "$dsn" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true' EXIT
case $dsn in *\?*) pgdsn="$dsn&search_path=$schema" ;; *) pgdsn="$dsn?search_path=$schema" ;; esac
WALLETPASS_LISTEN=$pg WALLETPASS_DATA_DIR="$tmp/pgdata" WALLETPASS_DATABASE_URL="$pgdsn" "$tmp/walletpass" serve >/dev/null 2>"$tmp/pg.log" & pids+=($!)
"$tmp/baregin" -listen "$bg" >/dev/null 2>&1 & pids+=($!)
until curl -sf "http://$wp/readyz" >/dev/null; do sleep 0.1; done
until curl -sf "http://$pg/readyz" >/dev/null; do sleep 0.1; done
until curl -s -o /dev/null "http://$bg/"; do sleep 0.1; done
path=/api/demo/webhooks/listeners/secutix/orders
body='{"ticketId":{{n}},"orderSecretToken":"bench-{{mod:1000}}","state":"PAID","lastUpdate":"{{now}}"}'
for i in $(seq "$rounds"); do
	for target in bare walletpass postgres; do
		addr=$bg; [ "$target" = walletpass ] && addr=$wp; [ "$target" = postgres ] && addr=$pg
		printf '%s %s ' "$target" "$i"
		"$tmp/loadgen" -url "http://$addr$path" -body "$body" -workers 16 -duration "${secs}s"
	done
done | tee "$tmp/closed.txt"
echo
printf 'walletpass at 1000/s: '; "$tmp/loadgen" -url "http://$wp$path" -body "$body" -rate 1000 -workers 64 -duration "${secs}s" | tee "$tmp/open.txt"
printf 'postgres at 1000/s:   '; "$tmp/loadgen" -url "http://$pg$path" -body "$body" -rate 1000 -workers 64 -duration "${secs}s"
printf 'bare gin at 1000/s:   '; "$tmp/loadgen" -url "http://$bg$path" -body "$body" -rate 1000 -workers 64 -duration "${secs}s"
echo
python3 - "$tmp/closed.txt" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rnd, js = line.split(" ", 2)
    rows.setdefault(name, []).append(json.loads(js))
bare = [r["perSecond"] for r in rows["bare"]]
print("| | acks/s (median of %d rounds) | p99 ms (median) | ratio to bare Gin, per round |" % len(bare))
print("|---|---|---|---|")
print("| bare Gin | %.0f | %.1f | |" % (statistics.median(bare), statistics.median(r["p99ms"] for r in rows["bare"])))
for name, label in (("walletpass", "walletpass webhook (SQLite)"), ("postgres", "walletpass webhook (PostgreSQL)")):
    got = [r["perSecond"] for r in rows[name]]
    ratios = [w / b for w, b in zip(got, bare)]
    print("| %s | %.0f | %.1f | **%.2f** (%s) |" % (label, statistics.median(got), statistics.median(r["p99ms"] for r in rows[name]),
        statistics.median(ratios), ", ".join("%.2f" % r for r in ratios)))
    non200 = sum(v for r in rows[name] for k, v in r["status"].items() if k != "200")
    print("| non-200 answers (%s) | %d | | |" % (name, non200))
PY
