#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers and has a database walletpass_test,
# then prints its DSN (run) or exports it as WALLETPASS_TEST_POSTGRES
# (sourced). Idempotent: run it as often as you like.
#
#   export WALLETPASS_TEST_POSTGRES="$(scripts/ci-postgres.sh)"
#   . scripts/ci-postgres.sh            # same, from a bash shell
#   scripts/ci-postgres.sh stop         # stop the throwaway cluster, if any
#
# It uses the server at 127.0.0.1:5432 when it answers and lets user
# postgres in without a password. Otherwise it starts a throwaway cluster
# (installing Debian's postgresql with apt if needed, as root): its own
# data directory, a loopback port, fsync off; it keeps running for the
# tests, and `stop` stops it. Settings (environment):
#   WALLETPASS_PG_THROWAWAY=1   skip the server at 5432
#   WALLETPASS_PG_PORT          the throwaway cluster's port (55432)
#   WALLETPASS_PG_DIR           its directory (/tmp/walletpass-pg)
# Messages go to stderr; stdout has only the DSN.

_walletpass_pg() (
	set -euo pipefail
	export PGCONNECT_TIMEOUT=5
	log() { echo "ci-postgres: $*" >&2; }
	host=127.0.0.1
	db=walletpass_test
	port=${WALLETPASS_PG_PORT:-55432}
	base=${WALLETPASS_PG_DIR:-/tmp/walletpass-pg}

	# answers PORT: the server accepts user postgres without a password.
	answers() {
		command -v pg_isready >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 &&
			pg_isready -q -h "$host" -p "$1" &&
			psql -w -h "$host" -p "$1" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1
	}
	pgbin() {
		local d
		d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
		if [ -z "$d" ] && command -v pg_ctl >/dev/null 2>&1; then
			d=$(dirname "$(command -v pg_ctl)")
		fi
		echo "$d"
	}
	# as_owner runs a command as the cluster's owner: initdb refuses root.
	as_owner() {
		if [ "$(id -u)" = 0 ]; then
			runuser -u postgres -- "$@"
		else
			"$@"
		fi
	}

	if [ "${1:-}" = stop ]; then
		bin=$(pgbin)
		if [ -n "$bin" ] && [ -f "$base/data/postmaster.pid" ]; then
			as_owner "$bin/pg_ctl" -D "$base/data" -m fast -w stop >&2
		else
			log "no throwaway cluster runs in $base"
		fi
		return 0
	fi

	if [ "${WALLETPASS_PG_THROWAWAY:-}" != 1 ] && answers 5432; then
		port=5432
		log "using the server at $host:$port"
	elif answers "$port"; then
		log "using the throwaway cluster at $host:$port"
	else
		bin=$(pgbin)
		if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || ! command -v psql >/dev/null 2>&1; then
			if [ "$(id -u)" != 0 ]; then
				log "PostgreSQL is not installed; install it (Debian: apt-get install postgresql) or run as root"
				return 1
			fi
			log "installing postgresql with apt"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq >&2
			apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
			bin=$(pgbin)
		fi
		owner=$(id -un)
		if [ "$owner" = root ]; then
			owner=postgres
		fi
		if [ ! -f "$base/data/PG_VERSION" ]; then
			log "creating a throwaway cluster in $base"
			rm -rf "$base"
			install -d -o "$owner" -m 700 "$base"
			as_owner "$bin/initdb" -D "$base/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
		fi
		log "starting the throwaway cluster at $host:$port"
		as_owner "$bin/pg_ctl" -D "$base/data" -l "$base/log" -w -t 30 start \
			-o "-p $port -k $base -c listen_addresses=$host -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 || {
			log "the cluster did not start; its log:"
			tail -n 20 "$base/log" >&2 || true
			return 1
		}
		answers "$port" || {
			log "the throwaway cluster at $host:$port does not answer"
			return 1
		}
	fi

	sql() { psql -w -h "$host" -p "$port" -U postgres -d postgres -Atqc "$1"; }
	if [ "$(sql "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
		# Another run may create it at the same moment: check again on failure.
		sql "CREATE DATABASE $db" >/dev/null 2>&1 || [ "$(sql "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ]
		log "created database $db"
	fi
	echo "postgres://postgres@$host:$port/$db?sslmode=disable"
)

if (return 0 2>/dev/null); then
	# Sourced: export the DSN into the caller's shell.
	if WALLETPASS_TEST_POSTGRES=$(_walletpass_pg "$@"); then
		export WALLETPASS_TEST_POSTGRES
		unset -f _walletpass_pg
	else
		unset -f _walletpass_pg
		return 1
	fi
else
	_walletpass_pg "$@"
fi
