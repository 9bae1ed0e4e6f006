#!/bin/sh
# Stop the mailroomd started by start-mailroom.sh (by its PID file only).
set -eu
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/pop3bench}
MR_DIR=${MR_DIR:-$WORK/mailroom}
PIDF="$MR_DIR/mailroomd.pid"
[ -f "$PIDF" ] || { echo "no $PIDF" >&2; exit 0; }
PID=$(cat "$PIDF")
kill -TERM "$PID" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && { echo "mailroomd $PID still running" >&2; exit 1; }
rm -f "$PIDF"
echo "stopped mailroomd $PID"
