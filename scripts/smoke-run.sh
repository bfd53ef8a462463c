#!/usr/bin/env bash
# Smoke test of the README's run command: start `npm start` (scripts/dev.mjs) on spare ports,
# send the Braze samples, check the local Segment sink received them, stop everything.
# The demo credentials it prints stay in .tmp/smoke-run.log, not in this script's output.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp
export RELAY_PORT="${RELAY_PORT:-18787}" SINK_PORT="${SINK_PORT:-18788}"
log=.tmp/smoke-run.log

setsid node scripts/dev.mjs >"$log" 2>&1 &
pid=$!
stop() {
  kill -INT -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
trap stop EXIT

fail() {
  echo "smoke-run: FAILED: $*"
  echo "--- last lines of $log (credential lines removed)"
  grep -viE 'token|write.?key|authorization' "$log" | tail -n 30 || true
  exit 1
}

for _ in $(seq 1 240); do
  curl -fsS "http://127.0.0.1:$RELAY_PORT/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "npm start exited early"
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$RELAY_PORT/health" >/dev/null || fail "the Worker never answered /health"

# The page, served by the Worker's static assets (wrangler.toml [assets]).
page="$(curl -fsSL "http://127.0.0.1:$RELAY_PORT/" || true)"
[[ "$page" == *"<title>Playground"* ]] || fail "GET / is not the Playground"
page="$(curl -fsSL "http://127.0.0.1:$RELAY_PORT/console.html" || true)"
[[ "$page" == *"<title>Console"* ]] || fail "GET /console.html is not the Console"

RELAY_URL="http://127.0.0.1:$RELAY_PORT" SINK_URL="http://127.0.0.1:$SINK_PORT" \
  node scripts/send-samples.mjs >.tmp/smoke-send.log 2>&1 || fail "send-samples failed: $(tail -n 5 .tmp/smoke-send.log)"

# Delivery is asynchronous (the queue consumer): poll the sink for up to ~30 s.
# 93 official samples; the one without any user identity is filtered, the rest arrive.
sink_events() {
  curl -fsS "http://127.0.0.1:$SINK_PORT/stats" 2>/dev/null \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).accepted_events??0))' \
    || echo 0
}
events=0
for _ in $(seq 1 60); do
  events=$(sink_events)
  [ "$events" -ge 92 ] && break
  sleep 0.5
done
[ "$events" -ge 92 ] || fail "the sink received $events events within 30 s, expected at least 92"
echo "smoke-run: npm start served, the sink received $events events; stopping"
