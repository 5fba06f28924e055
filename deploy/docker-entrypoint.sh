#!/bin/sh
# Maps Docker secrets into configuration: for every variable NAME_FILE=/run/secrets/x, exports NAME with the
# file's content (e.g. ConnectionStrings__Postgres_FILE, Herald__AdminKey_FILE). Then runs Herald with the role
# and arguments given. SIGTERM reaches dotnet directly (exec), which drains (Herald:DrainDelay) and stops.
set -eu
for var in $(env | sed -n 's/^\([A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
  file=$(printenv "${var}_FILE")
  if [ -r "$file" ]; then
    export "$var=$(cat "$file")"
    unset "${var}_FILE"
  else
    echo "herald-entrypoint: ${var}_FILE names $file, which is not readable" >&2
    exit 2
  fi
done
exec dotnet /app/Herald.Server.dll "$@"
