// The Worker logs JSON lines and never a secret or personal data (CONTRACTS §5): no write key,
// no bearer token (right or wrong), no email address, no phone number from the inputs.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brazeEvent, connectorConfig, newToken, newWriteKey, startHarness } from "./harness.mjs";

const token = newToken();
const wrongToken = newToken();
const writeKey = newWriteKey("logs");
const email = "jane.secret-7731@example.org";
const phone = "+4915112345678";
let h;

before(async () => {
  h = await startHarness({ writeKeys: { main: writeKey }, meterQueue: true });
  await h.putConnector("logs", connectorConfig(token, writeKey));
  await h.putConnector("logs-broken", { token_sha256: "zz", destinations: { main: { write_key: writeKey, region: "mars" } } });
});
after(() => h?.close());

function personal(id, extra = {}) {
  return brazeEvent(id, {
    event_type: "users.messages.sms.Delivery",
    properties: { app_id: "a", to_phone_number: phone, email_address: email, ...extra },
  });
}

test("a mix of requests leaves no secret in the logs", async () => {
  const noTime = personal("l-bad");
  delete noTime.time;
  const runs = [
    h.post("logs", { events: [personal("l1"), personal("l2"), noTime] }, { token }),
    h.post("logs", { events: [personal("l3")] }, { token: wrongToken }),
    h.post("logs", "", { token: wrongToken }),
    h.post("logs", `{"events": [${JSON.stringify(personal("l4"))}`, { token }),
    h.post("logs-broken", { events: [personal("l5")] }, { token }),
  ];
  const statuses = [];
  for (const r of runs) statuses.push((await r).status);
  await h.waitForMessages(2);
  // A Segment outage: accepted for Braze, failed (and logged) by the consumer, then delivered.
  h.sink.setFaults({ rate: 1, modes: ["503"] });
  statuses.push((await h.post("logs", { events: [personal("l6")] }, { token })).status);
  await h.waitFor(() => (h.sink.stats().faults["503"] ?? 0) >= 1);
  h.sink.setFaults(null);
  await h.waitForMessages(3, { timeoutMs: 30_000 });
  assert.deepEqual(statuses, [200, 401, 401, 400, 503, 200]);

  // Logs flow from workerd asynchronously: once the queue is idle every consumer invocation has
  // logged, and the barrier makes sure every line written so far has arrived.
  await h.settled();
  const text = h.logText();
  assert.match(text, /"event":"segment_failure"/, "the consumer logged the outage");
  assert.match(text, /"event":"deliver"/, "the consumer logged its batches");
  assert.ok(h.logs.length > 0, "the Worker logged nothing: the check would be vacuous");
  for (const [what, secret] of [
    ["write key", writeKey],
    ["write key (base64 Basic credentials)", Buffer.from(`${writeKey}:`).toString("base64")],
    ["bearer token", token],
    ["wrong bearer token", wrongToken],
    ["email", email],
    ["phone", phone],
  ]) {
    assert.ok(!text.includes(secret), `${what} found in the logs:\n${text}`);
  }
});

test("log lines are JSON objects", () => {
  const lines = h.logs.map((l) => l.message).filter((m) => m.trim() !== "");
  assert.ok(lines.length > 0);
  for (const line of lines) {
    let parsed;
    assert.doesNotThrow(() => (parsed = JSON.parse(line)), `not JSON: ${line}`);
    assert.equal(typeof parsed, "object", line);
  }
});
