#!/usr/bin/env bash
# Makes sure this machine has what cmmc-db's tests and commands use: a running PostgreSQL on
# 127.0.0.1:5432 with the pgvector extension available, pg_dump/pg_restore/psql, crontab, chromium,
# pg_autoctl (pg_auto_failover) for the high-availability tests, and Debian's python3-alembic with
# python3-psycopg2 (the migration engine's differential test against Alembic).
# Idempotent: every step is skipped when its result is already there.
# pgvector is not packaged for Debian bookworm; we build Debian trixie's source package
# (0.8.x) against bookworm's postgresql-server-dev (see README, "Set-up on a fresh machine").
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PGHOST_ADDR="${PGHOST_ADDR:-127.0.0.1}"
PGPORT_NUM="${PGPORT_NUM:-5432}"
psql_admin() { psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -Atqc "$1"; }

# The Debian archive this machine already uses: the first `URIs:` of its deb822 sources
# (/etc/apt/sources.list.d/*.sources) or the first `deb` line of its one-line lists whose path is the
# main archive (…/debian, not …/debian-security), so that no mirror host is written in this project.
# APT_ETC points elsewhere for the tests.
debian_mirror() {
  local etc="${APT_ETC:-/etc/apt}" uri
  uri="$(
    {
      for f in "$etc"/sources.list.d/*.sources; do if [ -f "$f" ]; then sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' "$f"; fi; done
      for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
        if [ -f "$f" ]; then sed -n 's/^[[:space:]]*deb\(-src\)\{0,1\}[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\3/p' "$f"; fi
      done
    } | tr ' ' '\n' | grep -E '^(https?|file)://' | grep -E '/debian/?$' | head -n 1 || true
  )"
  if [ -z "$uri" ]; then
    log "no Debian archive in ${etc}/sources.list or ${etc}/sources.list.d: add one (URIs: of your mirror) and run this again"
    return 1
  fi
  printf '%s\n' "${uri%/}"
}
if [ "${1:-}" = "--print-debian-mirror" ]; then debian_mirror; exit $?; fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2
}

# 1. PostgreSQL server and client tools.
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
  log "installing PostgreSQL"
  apt_install postgresql postgresql-client
fi
PG_MAJOR="${PG_MAJOR:-$(ls /usr/lib/postgresql | sort -n | tail -n 1)}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"

# 2. The server runs (start the cluster when it is stopped).
if ! pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -q; then
  log "starting PostgreSQL ${PG_MAJOR}"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
  for _ in $(seq 1 30); do pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -q && break; sleep 1; done
fi
pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -q || { log "PostgreSQL is not accepting connections on ${PGHOST_ADDR}:${PGPORT_NUM}"; exit 1; }

# 3. pgvector.
if [ "$(psql_admin "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")" != "1" ]; then
  log "pgvector missing: building Debian trixie's pgvector source package for PostgreSQL ${PG_MAJOR}"
  apt_install "postgresql-server-dev-${PG_MAJOR}" dpkg-dev make gcc
  mirror="$(debian_mirror)"
  work="$(mktemp -d)"
  mkdir -p "$work/sources.list.d" "$work/lists/partial"
  cat > "$work/sources.list.d/trixie-src.sources" <<SRC
Types: deb-src
URIs: ${mirror}
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  aptopts=(-oDir::Etc::SourceList=/dev/null -oDir::Etc::SourceParts="$work/sources.list.d" -oDir::State::Lists="$work/lists")
  $SUDO apt-get "${aptopts[@]}" update -qq >&2
  (cd "$work" && $SUDO apt-get "${aptopts[@]}" source --download-only pgvector >&2)
  tar -xzf "$work"/pgvector_*.orig.tar.gz -C "$work"
  src="$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)"
  make -s -C "$src" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >&2
  $SUDO make -s -C "$src" install PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >&2
  rm -rf "$work"
fi
log "pgvector $(psql_admin "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'") available"

# 4. crontab, for `cmmc-db backup schedule`.
if ! command -v crontab >/dev/null 2>&1; then
  log "installing cron (for crontab)"
  apt_install cron
fi
# 5. chromium, for the report's browser tests (playwright-core drives /usr/bin/chromium).
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium (for the report's browser tests)"
  apt_install chromium
fi
# 6. pg_auto_failover (pg_autoctl), for the high-availability tests (test/helpers/formation.ts)
#    and docs/high-availability.md: Debian's build for this PostgreSQL major.
if ! command -v pg_autoctl >/dev/null 2>&1; then
  log "installing pg_auto_failover (pg_autoctl) for PostgreSQL ${PG_MAJOR}"
  apt_install "postgresql-${PG_MAJOR}-auto-failover"
fi
# 7. Alembic 1.8 and psycopg2 (Debian's), for the differential test of the migration engine.
if ! /usr/bin/python3 -c 'import alembic, psycopg2' >/dev/null 2>&1; then
  log "installing python3-alembic and python3-psycopg2 (the differential test runs the real Alembic)"
  apt_install python3-alembic python3-psycopg2
fi
# 8. openssl, for the TLS tests' throwaway certificate (test/connection-tls.test.ts).
if ! command -v openssl >/dev/null 2>&1; then
  log "installing openssl (the TLS tests make a self-signed certificate)"
  apt_install openssl
fi
log "ready: PostgreSQL ${PG_MAJOR} on ${PGHOST_ADDR}:${PGPORT_NUM} with pgvector, $(pg_autoctl --version 2>/dev/null | head -n 1)"
