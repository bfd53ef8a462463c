// No secret travels through the queue, R2 or the logs (CONTRACTS §5): the write key is read from
// the connector config at send time, never put in a queue message. A spy Worker sits on the
// delivery queue (delivery-helpers.mjs, startSpiedHarness) and records every body the relay
// enqueues: at ingest, on a retry, on a hold, on a replay.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brazeEvent, connectorConfig, newToken, newWriteKey } from "./harness.mjs";
import { replay, startSpiedHarness, stats, total, waitUntil } from "./delivery-helpers.mjs";

const token = newToken();
const adminToken = newToken();
const writeKey = newWriteKey("secret");
const email = "jane.secret-7731@example.org";
const phone = "+4915112345678";
let h;

before(async () => {
  h = await startSpiedHarness({ writeKeys: { main: writeKey }, adminToken });
});
after(() => h?.close());

/** The consumer's "deliver" lines (one per invocation, with its counts), parsed. */
function consumerLines() {
  const out = [];
  for (const { message } of h.logs) {
    try {
      const line = JSON.parse(message);
      if (line.event === "deliver") out.push(line);
    } catch {
      // not a JSON line
    }
  }
  return out;
}

const personal = (id) =>
  brazeEvent(id, {
    event_type: "users.messages.sms.Delivery",
    properties: { app_id: "a", to_phone_number: phone, email_address: email },
  });

test("queue bodies, quarantine objects, admin answers and logs carry no write key or token", async () => {
  const config = connectorConfig(token, writeKey);
  await h.putConnector("sec", config);
  await h.putConnector("sec-paused", { ...config, paused: true });

  // sec: the first send gets 503 (retry), the retry gets 404 (quarantine), then a replay.
  h.sink.setFaults({ next: ["503", "404"], retryAfter: 1 });
  const a = await h.post("sec", { events: [personal("s1"), personal("s2"), personal("s3")] }, { token });
  assert.equal(a.status, 200, a.text);
  const b = await h.post("sec-paused", { events: [personal("s4"), personal("s5")] }, { token });
  assert.equal(b.status, 200, b.text);

  const [entry] = await waitUntil(
    async () => {
      const res = await h.admin("GET", "/admin/quarantine?connector=sec&reason=segment_rejected");
      return res.json?.objects?.length ? res.json.objects : null;
    },
    { timeoutMs: 20_000, what: "the segment_rejected object", describe: () => h.sink.stats() },
  );
  await waitUntil(async () => ((await stats(h, "sec-paused")).held?.paused ?? 0) >= 2, {
    timeoutMs: 20_000, what: "the paused connector's hold", describe: () => stats(h, "sec-paused"),
  });
  h.sink.setFaults(null);
  assert.deepEqual((await replay(h, { key: entry.key })).requeued, 3);
  await h.putConnector("sec-paused", config);
  await waitUntil(() => h.sink.stats().distinct_message_ids >= 5, {
    timeoutMs: 30_000, what: "all 5 events at the sink", describe: () => h.sink.stats(),
  });
  // Every path that enqueues was taken: ingest ×2, retry, hold, replay.
  const sec = await stats(h, "sec");
  assert.ok(sec.retried >= 3 && sec.replayed === 3 && sec.delivered === 3, JSON.stringify(sec));

  const secrets = [
    ["write key", writeKey],
    ["write key (base64 Basic credentials)", Buffer.from(`${writeKey}:`).toString("base64")],
    ["bearer token", token],
    ["admin token", adminToken],
    ["token hash", config.token_sha256],
    ["a write_key field", "write_key"],
  ];

  // 1. The queue bodies.
  assert.ok(h.queueBodies.length >= 5, `the spy saw ${h.queueBodies.length} queue bodies (ingest ×2, retry, hold, replay)`);
  for (const body of h.queueBodies) {
    const m = JSON.parse(body);
    assert.ok(["sec", "sec-paused"].includes(m.connector), body.slice(0, 200));
    assert.ok(Array.isArray(m.events) && m.events.length > 0, body.slice(0, 200));
    for (const [what, secret] of secrets) {
      assert.ok(!body.includes(secret), `${what} in a queue message: ${body.slice(0, 300)}`);
    }
  }
  assert.ok(h.queueBodies.some((b) => JSON.parse(b).attempt > 0), "no retried message seen");
  assert.ok(h.queueBodies.some((b) => JSON.parse(b).held > 0), "no held message seen");

  // 2. The quarantine objects in R2 and 3. the admin answers.
  const objects = await h.quarantineObjects("quarantine/");
  assert.ok(objects.length >= 1);
  const adminAnswers = [
    await h.admin("GET", "/admin/connectors/sec/stats"),
    await h.admin("GET", "/admin/connectors/sec-paused/stats"),
    await h.admin("GET", "/admin/quarantine?connector=sec"),
    await h.admin("GET", `/admin/quarantine/object?key=${encodeURIComponent(entry.key)}`),
  ];
  for (const a of adminAnswers) assert.equal(a.status, 200, a.text);
  for (const [where, text] of [
    ...objects.map((o) => [`R2 ${o.key}`, o.text]),
    ...adminAnswers.map((a, i) => [`admin answer ${i}`, a.text]),
  ]) {
    for (const [what, secret] of secrets) {
      assert.ok(!text.includes(secret), `${what} in ${where}: ${text.slice(0, 300)}`);
    }
  }

  // 4. The logs (they flow from workerd asynchronously). Each consumer invocation logs one line
  // with its counts after writing them to the stats: once the lines add up to the stats, with
  // all 5 events delivered, every invocation so far has logged. The barrier then makes sure every
  // other line written so far (ingest, admin) has arrived too.
  await waitUntil(
    async () => {
      const lines = consumerLines();
      const s = [await stats(h, "sec"), await stats(h, "sec-paused")];
      const fromLines = (field) => lines.reduce((n, l) => n + l[field], 0);
      const fromStats = (f) => f(s[0]) + f(s[1]);
      return fromLines("delivered") === 5
        && fromLines("delivered") === fromStats((x) => x.delivered)
        && fromLines("retried") === fromStats((x) => x.retried)
        && fromLines("held") === fromStats((x) => total(x.held))
        && fromLines("quarantined") === fromStats((x) => total(x.quarantined));
    },
    { timeoutMs: 20_000, what: "the consumer log lines to add up to the stats", describe: () => consumerLines() },
  );
  await h.logBarrier();
  const logText = h.logText();
  assert.ok(h.logs.length > 0, "the Worker logged nothing: the check would be vacuous");
  for (const [what, secret] of [...secrets, ["email", email], ["phone", phone]]) {
    assert.ok(!logText.includes(secret), `${what} in the logs:\n${logText.slice(0, 2000)}`);
  }
});
