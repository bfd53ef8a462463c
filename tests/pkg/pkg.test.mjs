// pkg/ (the translator built for JavaScript) gives exactly what the Worker sends: the same
// Braze samples go through pkg/node's translateBatch and through the built Worker under
// Miniflare to the Segment sink, and the two event lists must be equal.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, test } from "node:test";
import { GOLDEN_DIR, ROOT, loadGoldens, loadSamples, newToken, sha256hex, startHarness } from "../e2e/harness.mjs";

const require = createRequire(import.meta.url);
const pkgPath = path.join(ROOT, "pkg/node/currents_relay.js");
let relay;
try {
  relay = require(pkgPath);
} catch (e) {
  throw new Error(`pkg/node is missing: build it with \`bash scripts/build-pkg.sh\` (${e.message})`);
}

const CONNECTOR = "golden";
const configText = readFileSync(path.join(GOLDEN_DIR, "connector.json"), "utf8");
const config = JSON.parse(configText);
const token = newToken();
let h;

before(async () => {
  const keys = Object.fromEntries(Object.entries(config.destinations).map(([n, d]) => [n, d.write_key]));
  h = await startHarness({ writeKeys: keys });
  await h.putConnector(CONNECTOR, { ...config, token_sha256: sha256hex(token) });
});
after(() => h?.close());

test("pkg translateBatch equals the Worker's output for every Braze sample", async () => {
  const events = loadSamples();
  assert.equal(events.length, 93);
  const body = JSON.stringify({ events });
  const local = relay.translateBatch(body, configText, CONNECTOR);
  const res = await h.post(CONNECTOR, { events }, { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.received, local.received);
  assert.equal(res.json.filtered, local.filtered.length);
  assert.equal(res.json.quarantined, local.quarantined.length);
  const fromPkg = local.batches.flatMap((b) => b.events.map((e) => e.json));
  assert.equal(fromPkg.length, res.json.accepted);
  // Delivery is asynchronous (the queue consumer) and queue messages may arrive in any order
  // (Braze's samples share event ids, so count events, not distinct messageIds).
  await h.waitForEvents(fromPkg.length);
  const canon = (list) => list.map((e) => JSON.stringify(e)).sort();
  assert.deepEqual(canon(h.sink.events()), canon(fromPkg), "same events, same content");
});

test("pkg output equals the golden files", () => {
  for (const g of loadGoldens()) {
    const out = relay.translateBatch(JSON.stringify({ events: [g.braze] }), configText, CONNECTOR);
    assert.equal(out.batches.length, 1, g.type);
    assert.deepEqual(out.batches[0].events[0].json, g.segment, g.type);
  }
});

test("pkg reports filtered and quarantined events with reasons", () => {
  const body = JSON.stringify({
    events: [
      { id: "a", event_type: "users.messages.email.Send", time: 1, user: { user_id: "b" } },
      { id: "b", event_type: "users.messages.email.Send", time: -5 },
    ],
  });
  const out = relay.translateBatch(body, "{}");
  assert.deepEqual(out.filtered.map((f) => f.reason), ["anonymous_user"]);
  assert.deepEqual(out.quarantined.map((q) => q.reason), ["invalid_time"]);
  const anon = relay.translateBatch(body, JSON.stringify({ identity: { include_anonymous: true } }));
  assert.equal(anon.batches[0].events[0].json.anonymousId, "b");
});

test("pkg throws structured errors", () => {
  assert.throws(() => relay.translateBatch("[1]", "{}"), (e) => e.code === "not_an_object");
  assert.throws(
    () => relay.translateBatch("{}", JSON.stringify({ naming: { profile: "klingon" } })),
    (e) => e.code === "invalid_config" && e.errors[0].field === "naming.profile",
  );
  assert.deepEqual(relay.validateConfig(JSON.stringify({ destinations: {} })).map((e) => e.field), ["token_sha256"]);
  assert.equal(relay.knownEventTypes().length, 50);
});
