#!/usr/bin/env bash
# The whole app on one machine, on its embedded defaults: Azurite (tables,
# and storage queues in place of Service Bus), the Graph simulator with a
# demo partner (Fabrikam) and customer (Contoso), localpeers (Partner
# Center, the Teams webhook and the ticketing system), and the local
# Functions host running the handler. Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state="$root/.local"
bin="$state/bin"
mkdir -p "$bin" "$state/peers"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

command -v go >/dev/null || { echo "run-local: Go 1.26 is required" >&2; exit 1; }
echo "== building the handler and the local tools"
go build -o "$bin/handler" .
for c in devhost graphsim localpeers accessctl; do go build -o "$bin/$c" "./cmd/$c"; done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 7071 8090 8091; do
  port_free "$p" || { echo "run-local: port $p is in use (another local run?)" >&2; exit 1; }
done

echo "== Azurite"
export AZURITE_ENV_FILE="$state/azurite.env"
if port_free 10000 && port_free 10001 && port_free 10002; then export AZURITE_PORTS="10000 10001 10002"; fi
scripts/azurite.sh start
# shellcheck disable=SC1090
. "$AZURITE_ENV_FILE"
pids+=("$AZURITE_PID")

secret="local-only-ticket-secret-for-the-simulator" # at least 32 bytes, as the app requires
echo "== Graph simulator (demo tenants) and localpeers"
# Short delays, as Microsoft's but in seconds: an approved relationship is
# active after 20 s and a new guest is visible after 10 s, so that the
# grants are seen deferred, then active.
"$bin/graphsim" -addr 127.0.0.1:8090 -activation-delay 20s -replication-delay 10s >"$state/graphsim.out" 2>"$state/graphsim.log" & pids+=("$!")
rm -f "$state/peers/roots.pem" # a new root each run: wait for this run's
TICKET_WEBHOOK_SECRET="$secret" "$bin/localpeers" -addr 127.0.0.1:8091 -dir "$state/peers" -app http://127.0.0.1:7071 \
  >"$state/localpeers.out" 2>"$state/localpeers.log" & pids+=("$!")
for _ in $(seq 1 100); do
  [ -f "$state/peers/roots.pem" ] && ! port_free 8090 && ! port_free 8091 && break
  sleep 0.1
done

: >"$state/clock"
cat >"$state/local.settings.json" <<JSON
{
  "IsEncrypted": false,
  "Values": {
    "FUNCTIONS_WORKER_RUNTIME": "custom",
    "TABLES_CONNECTION_STRING": "$AZURITE_CONNECTION_STRING",
    "LOCAL_QUEUES_CONNECTION_STRING": "$AZURITE_CONNECTION_STRING",
    "GRAPH_BASE_URL": "http://127.0.0.1:8090/v1.0",
    "GRAPH_AUTH": "none",
    "PARTNER_TENANT_ID": "11112222-3333-4444-5555-666677778888",
    "APP_CLIENT_ID": "5e1f0000-0000-4000-8000-00000000a001",
    "CUSTOMER_APP_CLIENT_ID": "5e1f0000-0000-4000-8000-00000000c001",
    "PARTNER_SECURITY_GROUP_ID": "f1000000-0000-4000-8000-000000000001",
    "NOTIFY_MAIL_FROM": "copilot-access@fabrikam.example",
    "NOTIFY_TEAMS_WEBHOOK_URL": "http://127.0.0.1:8091/teams",
    "TICKET_CALLBACK_URL": "http://127.0.0.1:8091/ticket",
    "TICKET_WEBHOOK_SECRET": "$secret",
    "PARTNER_CENTER_ROOTS_FILE": "$state/peers/roots.pem",
    "PARTNER_CENTER_CERT_HOSTS": "http://127.0.0.1:8091",
    "PARTNER_CENTER_ISSUER_HOSTS": "http://127.0.0.1:8091",
    "EXPIRY_SWEEP_SCHEDULE": "0 */5 * * * *",
    "LOCAL_CLOCK_FILE": "$state/clock",
    "PORTAL_URL": "http://127.0.0.1:7071",
    "LIGHTHOUSE_APP_PRINCIPAL_ID": "7c6b5a49-3827-4165-9f0e-d1c2b3a49586",
    "ARM_BASE_URL": "http://127.0.0.1:8090"
  }
}
JSON

cat <<EOF

== Ready in a moment: the app on http://127.0.0.1:7071/api/ (Ctrl-C stops everything)

The portal: http://127.0.0.1:7071/api/portal (sign in as one of the demo people)

In another terminal:
  export TICKET_WEBHOOK_SECRET=$secret LOCAL_CLOCK_FILE=$state/clock ACCESSCTL_SINK_DIR=$state/peers
  alias accessctl=$bin/accessctl

  accessctl request b2b -email new.analyst@fabrikam.example -roles "Security Operator" -days 30 -ticket SEC-42
  accessctl grants                      # requested, then active once invitation-sent is processed
  accessctl mails                       # what the partner and the customer were told (Graph sendMail)
  accessctl sinks                       # the Teams card and the signed ticket comment
  accessctl time +29d && accessctl sweep && accessctl grants   # the 7-day notice ... then +2d for the 1-day one
  accessctl time +2d && accessctl sweep # the expiry: roles removed in the Graph simulator, grant expired
  accessctl guests                      # the guest the app invited is disabled after its grant
  accessctl request gdap -roles "Security Reader,Security Operator" -days 180 -ticket SEC-43
  accessctl approve -relationship <id from the gdap grant>     # the customer approves; Partner Center tells the app
  accessctl request lighthouse -subscription c0ffee00-1111-4222-8333-444455556666 -days 60 -ticket SEC-44
  accessctl delegate -subscription c0ffee00-1111-4222-8333-444455556666    # the customer deploys the mailed template
  accessctl time +10m && accessctl sweep && accessctl grants   # the app sees the delegation in ARM: active
  accessctl revoke -grant lighthouse:c0ffee00-1111-4222-8333-444455556666  # the app deletes the delegation through ARM
  accessctl request b2b -email x@fabrikam.example -roles "Global Administrator"   # refused by policy (422)
  accessctl advise -plugins "Sentinel,NL2KQL Sentinel" -payer partner
  accessctl time reset

Logs: $state/*.log; the host's log below. Storage: Azurite at $AZURITE_CONNECTION_STRING
EOF

"$bin/devhost" -root "$root" -handler "$bin/handler" -settings "$state/local.settings.json" -addr 127.0.0.1:7071 &
pids+=("$!")
wait "${pids[-1]}"
