#!/usr/bin/env bash
# Provision a Mailroom data directory from the benchmark data (gen-data.py) and certificate
# (make-cert.sh): the same SHA512-CRYPT hashes, the same Maildirs, the same certificate as Dovecot.
#
# usage: mailroom-import.sh          (all settings from the environment)
#   BENCH_WORK   work root (default $TMPDIR/pop3bench or /tmp/pop3bench)
#   DATA_DIR     output of gen-data.py      (default $BENCH_WORK/data)
#   CERT_DIR     output of make-cert.sh     (default $BENCH_WORK/cert)
#   MR_DIR       Mailroom's bench folder    (default $BENCH_WORK/mailroom)
#   MAILCTL      the mailctl binary         (default ../build-release/mailctl)
#   PLAIN_PORT   (default 12110)   TLS_PORT (default 12995)   listens on 127.0.0.1 only
#   LMTP_PORT    (default 12024)   SMTP_PORT (default 12025)  the delivery test's services, set
#                only when the data dir has them (modules lmtp and smtp); SMTP_TLS_PORT (12465)
#   FORCE=1      re-import even if MR_DIR/data is newer than accounts.tsv and the certificate
# Writes MR_DIR/data (mailroom.db, tls/) and MR_DIR/users*.txt: the load generator's user
# lists with 'user@bench.test password' lines (Mailroom logins are mailbox@postoffice; Dovecot's
# lists in DATA_DIR keep the bare names). The Maildirs themselves stay in DATA_DIR/mail.
# MR_DIR/delivery-ports: 'lmtp PORT' / 'smtp PORT' lines for the services set up (read by
# start-mailroom.sh, which waits for them, and by scripts/bench).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/pop3bench}
DATA_DIR=$(realpath "${DATA_DIR:-$WORK/data}")
CERT_DIR=$(realpath "${CERT_DIR:-$WORK/cert}")
MR_DIR=${MR_DIR:-$WORK/mailroom}
MAILCTL=${MAILCTL:-$HERE/../build-release/mailctl}
PLAIN_PORT=${PLAIN_PORT:-12110}
TLS_PORT=${TLS_PORT:-12995}
LMTP_PORT=${LMTP_PORT:-12024}
SMTP_PORT=${SMTP_PORT:-12025}
SMTP_TLS_PORT=${SMTP_TLS_PORT:-12465}
DOMAIN=bench.test

[ -f "$DATA_DIR/accounts.tsv" ] || { echo "no $DATA_DIR/accounts.tsv: run gen-data.py first" >&2; exit 1; }
[ -f "$CERT_DIR/cert.pem" ] || { echo "no $CERT_DIR/cert.pem: run make-cert.sh first" >&2; exit 1; }
[ -x "$MAILCTL" ] || { echo "no mailctl at $MAILCTL (build it, or set MAILCTL)" >&2; exit 1; }
mkdir -p "$MR_DIR"
MR_DIR=$(realpath "$MR_DIR")
DB="$MR_DIR/data/mailroom.db"
STAMP="$MR_DIR/data/.bench-imported"

if [ -f "$MR_DIR/mailroomd.pid" ] && kill -0 "$(cat "$MR_DIR/mailroomd.pid")" 2>/dev/null; then
  echo "mailroomd is running (pid $(cat "$MR_DIR/mailroomd.pid")): run stop-mailroom.sh first" >&2; exit 1
fi

# User lists for the load generator: same users and passwords, logins with @bench.test.
for list in "$DATA_DIR"/users*.txt; do
  awk -v d="$DOMAIN" 'NF >= 2 {print $1 "@" d " " $2}' "$list" > "$MR_DIR/$(basename "$list")"
done

if [ "${FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$STAMP" -nt "$DATA_DIR/accounts.tsv" ] &&
   [ "$STAMP" -nt "$CERT_DIR/cert.pem" ] && [ "$STAMP" -nt "$MAILCTL" ]; then
  echo "mailroom data in $MR_DIR/data is up to date (FORCE=1 re-imports)"
  exit 0
fi

rm -rf "$MR_DIR/data"
mc() { "$MAILCTL" --data "$MR_DIR/data" "$@"; }
mc init >/dev/null
mc postoffice add "$DOMAIN" >/dev/null
n=0
while IFS=$'\t' read -r user _password hash maildir _count; do
  case "$user" in ''|'#'*) continue ;; esac
  mc mailbox add "$user@$DOMAIN" --password-hash "{SHA512-CRYPT}$hash" --maildir "$DATA_DIR/$maildir" >/dev/null
  n=$((n + 1))
done < "$DATA_DIR/accounts.tsv"
mc cert import "$CERT_DIR/cert.pem" "$CERT_DIR/key.pem" >/dev/null

# Loopback high ports only; limits raised so the c=50 and 5,000/10,000-idle-session tests fit
# (every load comes from 127.0.0.1, so the per-address limit is off).
mc service set pop3 binds 127.0.0.1 >/dev/null
mc service set pop3 port "$PLAIN_PORT" >/dev/null
mc service set pop3 tls_binds 127.0.0.1 >/dev/null
mc service set pop3 tls_port "$TLS_PORT" >/dev/null
mc service set pop3 implicit_tls on >/dev/null
mc service set pop3 max_connections 20000 >/dev/null
mc service set pop3 max_connections_per_ip 0 >/dev/null
mc service set pop3 idle_timeout 600 >/dev/null

# Delivery (SMTP/LMTP): loopback high ports, c=20 from one address. Only services that exist.
: > "$MR_DIR/delivery-ports"
services=$(mc --json service list | python3 -c 'import json, sys; print(" ".join(s["name"] for s in json.load(sys.stdin)))')
for svc in lmtp smtp; do
  case " $services " in *" $svc "*) ;; *) continue ;; esac
  port=$LMTP_PORT; [ "$svc" = smtp ] && port=$SMTP_PORT
  mc service set "$svc" binds 127.0.0.1 >/dev/null
  mc service set "$svc" port "$port" >/dev/null
  mc service set "$svc" max_connections_per_ip 0 >/dev/null
  if [ "$svc" = smtp ]; then  # no implicit-TLS listener by default; keep any on loopback anyway
    mc service set smtp tls_binds 127.0.0.1 >/dev/null
    mc service set smtp tls_port "$SMTP_TLS_PORT" >/dev/null
  fi
  echo "$svc $port" >> "$MR_DIR/delivery-ports"
done
touch "$STAMP"
echo "imported $n mailboxes @$DOMAIN into $MR_DIR/data (db $DB), plain=127.0.0.1:$PLAIN_PORT tls=127.0.0.1:$TLS_PORT" \
  "$(tr '\n' ' ' < "$MR_DIR/delivery-ports")"
