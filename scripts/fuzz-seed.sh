#!/usr/bin/env bash
# Builds the fuzz seed inputs from the test fixtures into tests/fuzz/seeds/<target>/ (committed)
# and copies them into the working corpora tests/fuzz/corpus/<target>/ (git-ignored; grown by
# the fuzzer). Deterministic: run again after fixtures change.
#
# The `process` target's first byte picks the config (byte % 3) and the nearest region
# (byte / 3 % 3): golden events are seeded with 0x00 (default config), Braze samples with 0x01
# (rich config) and all samples together with 0x05 (routed config, nearest region EU).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { echo "fuzz-seed.sh needs jq" >&2; exit 1; }

seeds=tests/fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds/process" "$seeds/config" "$seeds/replay" "$seeds/structured"

with_selector() { # selector-byte(octal) file-in file-out
  { printf "\\$1"; cat "$2"; } >"$3"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# process: each golden event alone, every Braze sample as one batch, and a few edge bodies.
for f in tests/golden/*.braze.json; do
  name=$(basename "$f" .braze.json)
  jq -c '{events: [.]}' "$f" >"$tmp/body.json"
  with_selector 000 "$tmp/body.json" "$seeds/process/$name"
done
find tests/fixtures/braze-samples -name '*.json' | sort | xargs jq -c -s '{events: .}' >"$tmp/all.json"
with_selector 005 "$tmp/all.json" "$seeds/process/all-samples"
# ...and each Braze sample alone under the rich config (custom names, anonymous users).
find tests/fixtures/braze-samples -name '*.json' | sort | while read -r f; do
  name=$(echo "${f#tests/fixtures/braze-samples/}" | tr / .)
  jq -c '{events: [.]}' "$f" >"$tmp/body.json"
  with_selector 001 "$tmp/body.json" "$seeds/process/sample.$name"
done
printf '\000' >"$seeds/process/empty-body"
printf '\000{"events":[]}' >"$seeds/process/empty-events"
printf '\001{"events":[1,null,"x",{},[]]}' >"$seeds/process/junk-events"
# Numbers valid in JSON but out of f64's range (the first crash of the harness itself: its checks
# parsed events as serde_json::Value, which rejects them; the relay forwards them verbatim).
jq -c '{events: [.]}' tests/golden/users.messages.email.Open.braze.json \
  | sed 's/"time":[0-9]*/"time":1e477502783/' >"$tmp/body.json"
with_selector 001 "$tmp/body.json" "$seeds/process/number-out-of-range"
jq -c '{events: [.]}' tests/golden/users.messages.email.Open.braze.json \
  | sed 's/"properties":{/"properties":{"big":1e400,/' >"$tmp/body.json"
with_selector 000 "$tmp/body.json" "$seeds/process/property-1e400"

# config: the example and golden connectors.
cp docs/connector.example.json "$seeds/config/example.json"
cp tests/golden/connector.json "$seeds/config/golden.json"

# replay: a quarantine object of rejected raw events and one of translated events.
jq -c '{connector: "acme", received_at: "2026-11-28T15:39:14Z", reasons: {missing_field: 2},
        events: ([.events[:3][] | {index: 0, reason: "missing_field", detail: "d", raw: .}]
                 + [{reason: "missing_field", raw: {id: 1}}])}' "$tmp/all.json" >"$tmp/raw-doc.json"
with_selector 000 "$tmp/raw-doc.json" "$seeds/replay/raw-doc"
with_selector 002 "$tmp/raw-doc.json" "$seeds/replay/raw-doc-routed"
jq -c -n '{connector: "acme", received_at: "2026-11-28T15:39:14Z", reasons: {segment_rejected: 2},
           segment: {status: 400, destination: "main", region: "eu"},
           events: [{event_id: "e1", event_type: "users.messages.email.Open", reason: "segment_rejected",
                     message_id: "m1", segment: {type: "track", event: "Email Opened", userId: "u", messageId: "m1"}},
                    {event_id: "e2", reason: "segment_rejected", message_id: "m2", segment: {type: "track"}}]}' \
  >"$tmp/seg-doc.json"
with_selector 000 "$tmp/seg-doc.json" "$seeds/replay/segment-doc"

# structured: arbitrary bytes only (its input is an `arbitrary` byte stream).
head -c 512 "$seeds/process/all-samples" >"$seeds/structured/bytes-1"
printf '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024' >"$seeds/structured/bytes-2"

for t in process config replay structured; do
  mkdir -p "tests/fuzz/corpus/$t"
  cp "$seeds/$t"/* "tests/fuzz/corpus/$t/"
done
du -sh "$seeds"; for t in "$seeds"/*; do echo "$t: $(ls "$t" | wc -l) files"; done
