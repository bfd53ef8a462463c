// Hostile input through the built Worker: every row is a request a broken or malicious sender
// could make, with the status and problem code the Worker must answer. Never a 5xx, never a
// crash, and the Worker still healthy afterwards.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ORIGIN, brazeEvent, connectorConfig, newToken, newWriteKey, startHarness } from "./harness.mjs";

const CONNECTOR = "hostile";
const token = newToken();
const writeKey = newWriteKey();
let h;

before(async () => {
  h = await startHarness({ writeKeys: { main: writeKey } });
  await h.putConnector(CONNECTOR, connectorConfig(token, writeKey));
});
after(() => h?.close());

const ok = (over = {}) => brazeEvent(`ev-${Math.random().toString(36).slice(2)}`, over);
const nested = (depth) => "[".repeat(depth) + "]".repeat(depth);
const MB = 1024 * 1024;

/** [name, body (string | Uint8Array | object), expected status, expected code or summary check] */
const BODIES = [
  ["not JSON", "hello", 400, "invalid_json"],
  ["truncated JSON", '{"events":[', 400, "invalid_json"],
  ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0x65, 0x22, 0x3a, 0xff, 0x7d]), 400, "invalid_utf8"],
  ["byte-order mark before a valid batch", `\ufeff${JSON.stringify({ events: [ok()] })}`, 200, { accepted: 1 }],
  ["JSON array instead of an object", "[1,2]", 400, "not_an_object"],
  ["events is a string", { events: "many" }, 400, "events_not_array"],
  ["events is null", { events: null }, 400, "missing_events"],
  ["no events key", { event: [] }, 400, "missing_events"],
  ["duplicate events key", '{"events":[],"events":[]}', 400, "invalid_json"],
  // Deep nesting is kept as raw JSON, never recursed into: the event is quarantined on its own.
  ["an event nested 10,000 levels deep", `{"events":[${nested(10_000)}]}`, 200, { received: 1, quarantined: 1 }],
  [
    "a property nested 10,000 levels deep",
    `{"events":[{"id":"x","event_type":"users.messages.email.Open","time":1,"user":{"user_id":"b","external_user_id":"u"},"properties":{"deep":${nested(10_000)}}}]}`,
    200,
    // Valid and under 32 KB: forwarded verbatim; what Segment thinks of it is Segment's answer
    // (a 400 lands in quarantine as segment_rejected).
    { received: 1, accepted: 1 },
  ],
  ["100,000 non-object entries", `{"events":[${Array(100_000).fill("1").join(",")}]}`, 200, { received: 100_000, quarantined: 100_000 }],
  ["a 5 MB string property", { events: [ok({ properties: { blob: "x".repeat(5 * MB) } })] }, 200, { quarantined: 1 }],
  ["time beyond i64", `{"events":[{"id":"a","event_type":"users.messages.email.Open","time":99999999999999999999999,"user":{"user_id":"b","external_user_id":"u"}}]}`, 200, { quarantined: 1 }],
  ["float time", { events: [ok({ time: 1477502783.5 })] }, 200, { quarantined: 1 }],
  ["string time", { events: [ok({ time: "1477502783" })] }, 200, { quarantined: 1 }],
  ["duplicate keys inside an event", '{"events":[{"id":"a","id":"b","event_type":"x","time":1}]}', 200, { quarantined: 1 }],
  [
    "wrong types in every field",
    {
      events: [
        ok({ id: 7 }),
        ok({ event_type: {} }),
        ok({ time: [] }),
        ok({ user: "me" }),
        ok({ user: { user_id: 1 } }),
        ok({ properties: [1] }),
        ok({ id: null }),
        ok({ id: "x".repeat(10_000) }),
        true,
        null,
      ],
    },
    200,
    { received: 10, quarantined: 10 },
  ],
  ["a body over the size limit (50 MB)", "x".repeat(50 * MB), 413, "body_too_large"],
];

for (const [name, body, status, expect] of BODIES) {
  test(`hostile body: ${name} → ${status}`, async () => {
    const res = await h.post(CONNECTOR, body, { token });
    assert.equal(res.status, status, res.text.slice(0, 300));
    if (typeof expect === "string") {
      assert.equal(res.json?.code, expect, res.text.slice(0, 300));
      assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    } else {
      for (const [k, v] of Object.entries(expect)) assert.equal(res.json?.[k], v, `${k}: ${res.text}`);
    }
  });
}

/** [name, method, path, headers, expected status, expected code] */
const REQUESTS = [
  ["no Authorization", "POST", `/v1/currents/${CONNECTOR}`, {}, 401, "unauthorized"],
  ["huge Authorization (100 KB)", "POST", `/v1/currents/${CONNECTOR}`, { authorization: `Bearer ${"a".repeat(100_000)}` }, 401, "unauthorized"],
  ["malformed Authorization", "POST", `/v1/currents/${CONNECTOR}`, { authorization: "Bearer a b c" }, 401, "unauthorized"],
  ["Bearer without a token", "POST", `/v1/currents/${CONNECTOR}`, { authorization: "Bearer" }, 401, "unauthorized"],
  ["Basic instead of Bearer", "POST", `/v1/currents/${CONNECTOR}`, { authorization: `Basic ${token}` }, 401, "unauthorized"],
  ["wrong method on ingest", "GET", `/v1/currents/${CONNECTOR}`, {}, 405, "method_not_allowed"],
  ["wrong method on health", "DELETE", "/health", {}, 405, "method_not_allowed"],
  ["unknown path", "POST", "/v2/currents/x", {}, 404, "not_found"],
  ["connector id with ../", "POST", "/v1/currents/..%2F..%2Fsecret", {}, 404, "unknown_connector"],
  ["connector id with %00", "POST", "/v1/currents/abc%00def", {}, 404, "unknown_connector"],
  ["connector id of 10 KB", "POST", `/v1/currents/${"a".repeat(10_240)}`, {}, 404, "unknown_connector"],
  ["admin without token", "GET", "/admin/connectors", {}, 401, "unauthorized"],
];

for (const [name, method, path, headers, status, code] of REQUESTS) {
  test(`hostile request: ${name} → ${status}`, async () => {
    const init = { method, headers: { "content-type": "application/json", ...headers } };
    if (method === "POST") init.body = JSON.stringify({ events: [] });
    const res = await h.mf.dispatchFetch(`${ORIGIN}${path}`, init);
    const text = await res.text();
    assert.equal(res.status, status, text.slice(0, 300));
    assert.equal(JSON.parse(text).code, code);
  });
}

test("the Worker is still healthy and delivering after all of it", async () => {
  const res = await h.fetch("/health");
  assert.equal(res.status, 200);
  const id = `after-${Date.now()}`;
  const post = await h.post(CONNECTOR, { events: [brazeEvent(id)] }, { token });
  assert.equal(post.status, 200, post.text);
  assert.equal(post.json.accepted, 1);
});
