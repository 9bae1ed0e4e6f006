#!/usr/bin/env bash
# Start mailroomd on the data directory made by mailroom-import.sh (127.0.0.1 high ports only).
#
# usage: start-mailroom.sh           (all settings from the environment)
#   BENCH_WORK  work root (default $TMPDIR/pop3bench or /tmp/pop3bench)
#   MR_DIR      Mailroom's bench folder (default $BENCH_WORK/mailroom): data/, mailroomd.pid, mailroomd.log
#   MAILROOMD   the daemon binary (default ../build-release/mailroomd)
#   PLAIN_PORT  (default 12110)   TLS_PORT (default 12995): waited for before returning, as are
#               the LMTP/SMTP ports in MR_DIR/delivery-ports (written by mailroom-import.sh)
#   LOG_LEVEL   mailroomd --log-level (default info: one line per login/logout, like Dovecot's)
# Stop with stop-mailroom.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/pop3bench}
MR_DIR=${MR_DIR:-$WORK/mailroom}
MAILROOMD=${MAILROOMD:-$HERE/../build-release/mailroomd}
PLAIN_PORT=${PLAIN_PORT:-12110}
TLS_PORT=${TLS_PORT:-12995}
LOG_LEVEL=${LOG_LEVEL:-info}
PIDF="$MR_DIR/mailroomd.pid"
LOG="$MR_DIR/mailroomd.log"

[ -f "$MR_DIR/data/mailroom.db" ] || { echo "no $MR_DIR/data: run mailroom-import.sh first" >&2; exit 1; }
[ -x "$MAILROOMD" ] || { echo "no mailroomd at $MAILROOMD (build it, or set MAILROOMD)" >&2; exit 1; }
if [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; then
  echo "mailroomd already running (pid $(cat "$PIDF")); run stop-mailroom.sh" >&2; exit 1
fi

# One process holds every connection: give it the whole fd allowance (idle test: 5,000 sessions).
# One descriptor per session: as root, raise the hard limit for runs beyond ~20,000 sessions
# (mailroomd itself takes the hard limit).
hard=$(ulimit -Hn)
if [ "$(id -u)" = 0 ] && [ "$hard" != unlimited ] && [ "$hard" -lt 65536 ]; then ulimit -Hn 65536 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "=== start $(date '+%F %T') fd limit $(ulimit -n)" >> "$LOG"
# The bench data dir belongs to whoever made it: as root, the daemon stays root (see mailroomd --help).
RUN_AS=""
[ "$(id -u)" = 0 ] && RUN_AS="--user root"
nohup "$MAILROOMD" --data "$MR_DIR/data" $RUN_AS --log-level "$LOG_LEVEL" >> "$LOG" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDF"

PORTS="$PLAIN_PORT $TLS_PORT"
[ -f "$MR_DIR/delivery-ports" ] && PORTS="$PORTS $(awk '{print $2}' "$MR_DIR/delivery-ports" | tr '\n' ' ')"
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
all_listening() { for p in $PORTS; do listening "$p" || return 1; done; }
for _ in $(seq 100); do
  kill -0 "$PID" 2>/dev/null || { echo "mailroomd exited at start; see $LOG" >&2; tail -5 "$LOG" >&2; rm -f "$PIDF"; exit 1; }
  all_listening && break
  sleep 0.1
done
all_listening || { echo "mailroomd $PID is not listening on every one of $PORTS; see $LOG" >&2; exit 1; }
echo "mailroomd $("$MAILROOMD" --version 2>/dev/null | head -1) pid=$PID plain=127.0.0.1:$PLAIN_PORT tls=127.0.0.1:$TLS_PORT" \
  "$([ -s "$MR_DIR/delivery-ports" ] && tr '\n' ' ' < "$MR_DIR/delivery-ports")log=$LOG"
