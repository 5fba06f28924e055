#!/usr/bin/env bash
# Runs Herald's whole test suite. Installs what the suites need when missing (PostgreSQL, Redis, HAProxy, nginx,
# Net::SMPP, aiosmtpd, Prometheus, Node.js and npm, chromium), builds with warnings as errors, and runs every test project; fails on any failed or skipped
# test (a skip hides work that green would claim). Test fixtures start their own throwaway servers on random
# loopback ports; nothing here starts a long-lived service.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The HA test (tests/Herald.Chaos.Tests) runs Debian's HAProxy and nginx with the configs from deploy/.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need_apt+=(postgresql); fi
# The SMPP tests check Herald's client and SMSC simulator against Net::SMPP, an implementation not written here.
perl -MNet::SMPP -e 1 >/dev/null 2>&1 || need_apt+=(libnet-smpp-perl)
# The SMTP connector is checked against aiosmtpd, an SMTP server not written here, run by Debian's python3.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need_apt+=(python3-aiosmtpd)
# deploy/observability is checked with Debian's Prometheus: promtool checks and unit-tests the alert rules, and the
# prometheus binary scrapes a running Herald on loopback (tests/Herald.EndToEnd.Tests/Observability).
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need_apt+=(prometheus)
# The operator console (web/console) is built by src/Herald.Server's build with the machine's Node.js and npm; its
# browser tests (tests/Herald.EndToEnd.Tests/Console) drive Debian's chromium through Playwright (no browser download).
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian's packages start system-wide services; the tests do not use them.
for svc in redis-server postgresql; do
  (service "$svc" stop >/dev/null 2>&1 || true)
done
for svc in haproxy nginx prometheus; do
  (service "$svc" stop >/dev/null 2>&1 || true)
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Herald.slnx -c Release -warnaserror -nologo -clp:ErrorsOnly

results=$(mktemp -d)
status=0
for project in tests/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  if ! dotnet test "$project" -c Release --no-build --nologo --logger "trx;LogFileName=$name.trx" \
      --results-directory "$results" -- RunConfiguration.TestSessionTimeout=1500000 2>&1 | tee "$results/$name.log"; then
    status=1
  fi
done

# One closing line over all projects, summed from the runners' own summaries.
passed=0 failed=0 skipped=0
for log in "$results"/*.log; do
  while read -r f p s; do
    failed=$((failed + f)) passed=$((passed + p)) skipped=$((skipped + s))
  done < <(sed -n 's/.*Failed: *\([0-9]*\), Passed: *\([0-9]*\), Skipped: *\([0-9]*\).*/\1 \2 \3/p' "$log")
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ]; then status=1; fi
if [ "$skipped" -gt 0 ]; then
  echo "test.sh: $skipped test(s) skipped; a skipped test is a failure here" >&2
  status=1
fi
exit $status
