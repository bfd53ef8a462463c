// Where events go cannot be changed from outside: neither a request (headers, query, path) nor a
// connector config can point the Worker's Segment calls anywhere but the configured endpoints.
// Tokens are stored only as hashes.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ORIGIN, brazeEvent, connectorConfig, newToken, newWriteKey, startHarness } from "./harness.mjs";

const token = newToken();
const writeKey = newWriteKey();
let h;

before(async () => {
  h = await startHarness({ writeKeys: { main: writeKey }, meterQueue: true });
});
after(() => h?.close());

test("a request cannot redirect delivery: Host, X-Forwarded-Host, query and cf are ignored", async () => {
  await h.putConnector("sec", connectorConfig(token, writeKey));
  h.sink.reset();
  const evil = "http://127.0.0.1:9/steal";
  const res = await h.mf.dispatchFetch(`${ORIGIN}/v1/currents/sec?url=${encodeURIComponent(evil)}&endpoint=${evil}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      host: "evil.example",
      "x-forwarded-host": "evil.example",
      "x-segment-endpoint": evil,
    },
    body: JSON.stringify({ events: [brazeEvent("sec-1")] }),
    cf: { country: "DE", continent: "EU" },
  });
  assert.equal(res.status, 200, await res.text());
  await h.waitForEvents(1);
  await h.waitForQueueIdle(); // every queued message is done: no other request can still come
  const batches = h.sink.batches;
  assert.equal(batches.length, 1, "exactly one Segment request, to the configured sink");
  assert.equal(batches[0].region, "us", "region from the config (us), not from the request's cf");
  assert.equal(batches[0].source, "main");
});

test("a connector config cannot name an endpoint: unknown fields are refused", async () => {
  for (const field of [
    { url: "http://127.0.0.1:9/steal" },
    { endpoint: "http://127.0.0.1:9/steal" },
    { segment_url: "http://127.0.0.1:9/steal" },
  ]) {
    const viaAdmin = await h.admin("POST", "/admin/connectors", {
      id: "sec-admin",
      config: { destinations: { main: { write_key: writeKey, region: "us", ...field } } },
    });
    assert.equal(viaAdmin.status, 422, viaAdmin.text);
    assert.equal(viaAdmin.json.code, "invalid_config");
    assert.match(viaAdmin.json.errors[0].field, /^destinations\.main\./);
    const topLevel = await h.admin("POST", "/admin/connectors", {
      id: "sec-admin",
      config: { destinations: { main: { write_key: writeKey, region: "us" } }, ...field },
    });
    assert.equal(topLevel.status, 422, topLevel.text);
    // Written to KV by hand, the same document is refused at ingest (503: Braze retries) and
    // nothing is sent anywhere.
    await h.putConnector("sec-kv", { ...connectorConfig(token, writeKey), ...field });
    h.sink.reset();
    const res = await h.post("sec-kv", { events: [brazeEvent("sec-2")] }, { token });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.code, "connector_misconfigured");
  }
  // Nothing was ever put on the delivery queue for the refused requests, so nothing of them can
  // reach Segment; and the queue is idle, so no earlier message can either.
  await h.waitForQueueIdle();
  assert.deepEqual(h.queueCalls.filter((c) => c.connector === "sec-kv"), [], "a refused request queued events");
  assert.equal(h.sink.batches.length, 0);
});

test("regions are only us or eu (auto resolves to one of them)", async () => {
  const res = await h.admin("POST", "/admin/connectors", {
    id: "sec-region",
    config: { destinations: { main: { write_key: writeKey, region: "http://127.0.0.1:9" } } },
  });
  assert.equal(res.status, 422, res.text);
  assert.equal(res.json.errors[0].field, "destinations.main.region");
});

test("bearer tokens are stored only as their SHA-256", async () => {
  const created = await h.admin("POST", "/admin/connectors", {
    id: "sec-hash",
    config: { destinations: { main: { write_key: writeKey, region: "us" } } },
  });
  assert.equal(created.status, 201, created.text);
  const stored = await h.kv.get("connector:sec-hash");
  assert.ok(!stored.includes(created.json.token), "the token itself is not stored");
  const rotated = await h.admin("POST", "/admin/connectors/sec-hash/rotate-token");
  const again = await h.kv.get("connector:sec-hash");
  assert.ok(!again.includes(rotated.json.token) && !again.includes(created.json.token));
  assert.notEqual(JSON.parse(again).token_sha256, JSON.parse(stored).token_sha256);
});
