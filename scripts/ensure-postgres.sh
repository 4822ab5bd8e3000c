#!/usr/bin/env bash
# Make a PostgreSQL server available for the test suite and print its SQLAlchemy URL.
# Installs Debian's postgresql package when missing (needs root), starts the cluster, and
# creates a throwaway role and database. Prints nothing and exits 1 if that is not possible.
set -u
ROLE=syndicator
PASS=syndicator
DB=syndicator_test
PORT=${SYNDICATOR_PG_PORT:-5432}

have_server() { ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; }

if ! have_server; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "postgresql is not installed and we are not root: PostgreSQL tests will skip" >&2
    exit 1
  fi
  echo "installing postgresql (Debian package)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2 || {
    echo "apt-get install postgresql failed: PostgreSQL tests will skip" >&2
    exit 1
  }
fi

if command -v pg_lsclusters >/dev/null 2>&1; then
  if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    pg_createcluster "$ver" main >/dev/null 2>&1 || true
  fi
  pg_lsclusters -h | while read -r ver cluster _port status _rest; do
    if [ "$status" != "online" ]; then
      pg_ctlcluster "$ver" "$cluster" start >&2 || true
    fi
  done
fi

for _ in $(seq 1 30); do
  runuser -u postgres -- psql -p "$PORT" -qAtc "select 1" >/dev/null 2>&1 && break
  sleep 0.5
done
if ! runuser -u postgres -- psql -p "$PORT" -qAtc "select 1" >/dev/null 2>&1; then
  echo "PostgreSQL did not come up on port $PORT: PostgreSQL tests will skip" >&2
  exit 1
fi

runuser -u postgres -- psql -p "$PORT" -qAtc \
  "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='$ROLE') THEN CREATE ROLE $ROLE LOGIN PASSWORD '$PASS' CREATEDB; END IF; END\$\$;" >&2
if ! runuser -u postgres -- psql -p "$PORT" -qAtc "select 1 from pg_database where datname='$DB'" | grep -q 1; then
  runuser -u postgres -- createdb -p "$PORT" -O "$ROLE" "$DB" >&2
fi
echo "postgresql+psycopg://$ROLE:$PASS@127.0.0.1:$PORT/$DB"
