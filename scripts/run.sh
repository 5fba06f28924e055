#!/usr/bin/env bash
# Runs Herald in the embedded mode: SQLite, the provider sandbox, the API and the console on localhost (the README's
# first command). The console (web/console) is built with the server and needs Node.js and npm: installed with
# apt-get when missing, as scripts/test.sh does; with them present this is `dotnet run --project src/Herald.Server`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "run.sh: installing nodejs npm (the operator console is built with the server)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet run --project src/Herald.Server -- "$@"
