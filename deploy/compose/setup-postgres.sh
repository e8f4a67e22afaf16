#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to
# the versions shipped in this admin-tools image. Safe to run again: create
# tolerates an existing database and update-schema only applies what is new.
set -eu
ep=postgresql
user="${POSTGRES_USER:-temporal}"
export SQL_PASSWORD="${SQL_PASSWORD:-${POSTGRES_PWD:-temporal}}"
schema=/etc/temporal/schema/postgresql/v12

until nc -z -w 5 "$ep" 5432; do echo "waiting for $ep:5432"; sleep 2; done

sql() { temporal-sql-tool --plugin postgres12 --ep "$ep" -p 5432 -u "$user" "$@"; }

for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  sql --db "$db" create || echo "database $db exists"
  sql --db "$db" setup-schema -v 0.0 || echo "schema of $db already set up"
  sql --db "$db" update-schema -d "$schema/$dir/versioned"
done
echo "PostgreSQL schemas are ready"
