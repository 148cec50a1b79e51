#!/usr/bin/env bash
# Runs the test suite (or any command) with the clock of the test process and of every process it starts set to a
# chosen weekday and time in Europe/Paris, with Debian's libfaketime. No test may depend on the day or the hour:
# this is how that is checked.
#
#   bash test/support/faked-clock.sh <mon|tue|…|sun> <HH:MM> [command…]     (default command: npx vitest run)
#   npm run test:clocks                                                       (Saturday 03:00, then Tuesday 10:30)
#
# How:
# - The faked instant is the most recent <weekday> <HH:MM> Europe/Paris at or before now (never in the future: a
#   Kafka 4 broker refuses record timestamps more than an hour ahead of its own clock).
# - The clock is shifted by a fixed offset (FAKETIME="-<seconds>"), not started at an instant ("@…"): every process
#   started later during the run (services, collectors, pg_dump) then agrees with the test process to the
#   millisecond, and the clock keeps running.
# - The monotonic clock stays real (FAKETIME_DONT_FAKE_MONOTONIC): Node's timers, vitest's timeouts and waitFor's
#   intervals run on it.
# - TZ=Europe/Paris, so code that reads the local zone sees a zone that is not the machine's UTC.
# - The local stack (PostgreSQL, Kafka's JVM, Prometheus, Alertmanager) is brought up first with the real clock and
#   the suite is told not to touch it (VIGIE_STACK_EXTERNAL=1); the private servers some tests start
#   (libs/testkit) drop the faked clock from their environment. Servers keep real time, as they would in
#   production, so tests that read server timestamps must hold for any clock of the test process.
# - Before the run, the script checks that Node's Date.now() and a child process's are really faked.
set -euo pipefail

usage() {
  echo "usage: bash test/support/faked-clock.sh <mon|tue|wed|thu|fri|sat|sun> <HH:MM> [command…]" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
day=${1,,}
hhmm=$2
shift 2
[[ $day =~ ^(mon|tue|wed|thu|fri|sat|sun)$ ]] || usage
[[ $hhmm =~ ^([01][0-9]|2[0-3]):[0-5][0-9]$ ]] || usage
[[ $# -gt 0 ]] || set -- npx vitest run

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [[ ! -f $lib ]]; then
  # Debian's libfaketime, installed like the stack's packages (a fresh machine has not got it).
  echo "faked-clock: installing faketime" >&2
  if ! { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends faketime ||
    { DEBIAN_FRONTEND=noninteractive apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends faketime; }; } >&2 ||
    [[ ! -f $lib ]]; then
    echo "faked-clock: $lib not found and apt-get could not install faketime" >&2
    exit 2
  fi
fi

# The most recent <day> <HH:MM> in Europe/Paris at or before now (DST handled by date(1) and the zone database).
now=$(date +%s)
target=''
for back in 0 1 2 3 4 5 6 7; do
  date_paris=$(TZ=Europe/Paris date -d "@$((now - back * 86400))" +%F)
  ts=$(TZ=Europe/Paris date -d "$date_paris $hhmm" +%s)
  wd=$(TZ=Europe/Paris date -d "@$ts" +%a)
  if [[ ${wd,,} == "$day" && $ts -le $now ]]; then
    target=$ts
    break
  fi
done
[[ -n $target ]] || {
  echo "faked-clock: could not place $day $hhmm" >&2
  exit 1
}
offset=$((now - target))
if ((offset > 6 * 86400)); then
  echo "faked-clock: warning: the faked clock is $((offset / 3600)) h behind; Kafka's 7-day retention may drop" \
    "records of a long run (run again after $day $hhmm Europe/Paris for a shorter lag)" >&2
fi

# The stack first, on the real clock.
if [[ ${VIGIE_STACK_EXTERNAL:-} != 1 ]]; then
  bash "$repo/deploy/local/stack.sh" up
fi

export LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD}
export FAKETIME="-$offset"
export FAKETIME_DONT_FAKE_MONOTONIC=1
export TZ=Europe/Paris
export VIGIE_STACK_EXTERNAL=1

# Is the clock really faked for Node and for the processes Node starts? Allow a minute for slow starts. The faked
# clock runs: it is as far past the target as the real clock is past the start (the stack can take minutes to come up).
expected=$((target + $(env -u LD_PRELOAD -u FAKETIME date +%s) - now))
check=$(node -e '
  const { execFileSync } = require("node:child_process");
  const child = Number(execFileSync(process.execPath, ["-e", "process.stdout.write(String(Date.now()))"]));
  const t0 = performance.now();
  setTimeout(() => {
    const timerMs = performance.now() - t0;
    process.stdout.write(`${Date.now()} ${child} ${Math.round(timerMs)}`);
  }, 200);
')
read -r parent child timer_ms <<<"$check"
for t in "$parent" "$child"; do
  delta=$((t / 1000 - expected))
  if ((delta < -1 || delta > 60)); then
    echo "faked-clock: Node's clock is not faked (Date.now() is $t, expected about ${expected}000)" >&2
    exit 1
  fi
done
if ((timer_ms < 190 || timer_ms > 5000)); then
  echo "faked-clock: a 200 ms timer took $timer_ms ms under the faked clock" >&2
  exit 1
fi
echo "faked-clock: $(date -d "@$target" '+%A %F %H:%M %Z') (Europe/Paris; real clock $(date -u -d "@$now" '+%F %H:%M UTC'), offset -${offset}s); Node: $(date -d "@$((parent / 1000))" '+%a %F %T %Z'), child: $(date -d "@$((child / 1000))" '+%a %T')" >&2

cd "$repo"
"$@"
