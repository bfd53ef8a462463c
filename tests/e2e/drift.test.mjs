// The schema-drift report (docs/ADMIN_API.md, GET and DELETE /admin/connectors/{id}/drift) through
// the built Worker under workerd: a batch with an event type the mapping table does not know and a
// known type with a property it does not document shows exactly those, with counts, JSON kinds,
// first and last seen (the Worker's test clock moves between two batches) and never a value; a
// reset empties it; the bounds hold for hostile batches; unknown connectors are 404 and the admin
// token is required.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { newWriteKey, startHarness, waitFor } from "./harness.mjs";

const WK = newWriteKey("drift");
const NEW_TYPE = "users.messages.hologram.Send";
const OPEN = "users.messages.email.Open";
const DAY_MS = 86_400_000;
/** Personal-looking values: none may appear in any drift answer. */
const SECRETS = ["jane.doe@example.com", "+1 555 0100 2233", "Jane Q. Doe", "4111111111111111", "203.0.113.77"];

let h;
before(async () => {
  h = await startHarness({ writeKeys: { main: WK } });
});
after(() => h?.close());

/** Creates a connector through the admin API (so it has a generation); returns its token. */
async function createConnector(id) {
  const r = await h.admin("POST", "/admin/connectors", {
    id,
    config: { destinations: { main: { write_key: WK, region: "us" } } },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.token;
}

const drift = (id) => h.admin("GET", `/admin/connectors/${id}/drift`);

/** Waits until the connector's report satisfies `predicate` (the stats object is written after the 200). */
function driftWhere(id, predicate, message) {
  return waitFor(async () => {
    const r = await drift(id);
    assert.equal(r.status, 200, r.text);
    return predicate(r.json) && r;
  }, { message });
}

function event(id, eventType, properties) {
  return { id, event_type: eventType, time: 1_767_225_600, user: { user_id: `b-${id}`, external_user_id: `u-${id}` }, properties };
}

/** A hologram (unknown type) carrying personal-looking values of every kind. */
const hologram = (id) => event(id, NEW_TYPE, {
  viewer_email: SECRETS[0], viewer_phone: SECRETS[1], hologram_id: 4111111111111111, seen: true,
  tags: [SECRETS[2]], meta: { ip: SECRETS[4] }, cleared: null,
});

describe("a new type and an undocumented property", () => {
  const ID = "drift-e2e";
  let token;
  let firstAt;
  let secondAt;

  test("are recorded exactly, with counts, kinds and an example of names and kinds only", async () => {
    token = await createConnector(ID);
    const empty = await drift(ID);
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual([empty.json.types, empty.json.fields, empty.json.overflow], [[], [], 0]);

    firstAt = Date.now();
    const res = await h.post(ID, {
      events: [
        hologram("h1"),
        hologram("h2"),
        // Documented properties (listed, moved to context), an undocumented one, a null one.
        event("o1", OPEN, { campaign_id: "c-1", dispatch_id: "d-1", email_address: SECRETS[0], ai_open_score: 0.93, churn_hint: null }),
        // Invalid events are quarantined before they are looked at: their type is not recorded.
        { event_type: "users.messages.neverValid.Send", time: 1_767_225_600, properties: { x: SECRETS[3] } },
      ],
    }, { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.json.received, res.json.quarantined], [4, 1], res.text);

    const r = await driftWhere(ID, (d) => d.types.length === 1 && d.fields.length === 1, "the first batch's drift");
    const d = r.json;
    assert.equal(d.connector, ID);
    assert.deepEqual(d.types.map(({ first_seen_ms, last_seen_ms, ...rest }) => rest), [{
      event_type: NEW_TYPE,
      count: 2,
      example: [["viewer_email", "string"], ["viewer_phone", "string"], ["hologram_id", "number"], ["seen", "boolean"],
        ["tags", "array"], ["meta", "object"]],
    }]);
    assert.deepEqual(d.fields.map(({ first_seen_ms, last_seen_ms, ...rest }) => rest), [{
      event_type: OPEN,
      field: "ai_open_score",
      kind: "number",
      count: 1,
      example: [["campaign_id", "string"], ["dispatch_id", "string"], ["email_address", "string"], ["ai_open_score", "number"]],
    }]);
    assert.equal(d.overflow, 0);
    assert.deepEqual(d.limits, { types: 100, fields: 100, example_properties: 32, name_bytes: 64 });
    for (const e of [...d.types, ...d.fields]) {
      assert.equal(e.first_seen_ms, e.last_seen_ms);
      assert.ok(Math.abs(e.first_seen_ms - firstAt) < 60_000, `seen when received: ${e.first_seen_ms} vs ${firstAt}`);
    }
    for (const secret of SECRETS) assert.ok(!r.text.includes(secret), `${secret} in ${r.text}`);
    assert.ok(!r.text.includes("0.93") && !r.text.includes("c-1"), r.text);
  });

  test("a later batch counts on: first seen stays, last seen moves (the Worker's clock is 5 days on)", async () => {
    await h.setClockOffset(5 * DAY_MS);
    try {
      secondAt = Date.now() + 5 * DAY_MS;
      const res = await h.post(ID, { events: [hologram("h3"), event("o2", OPEN, { ai_open_score: 1, new_flag: false })] }, { token });
      assert.equal(res.status, 200, res.text);
    } finally {
      await h.setClockOffset(0);
    }
    const r = await driftWhere(ID, (d) => d.types[0]?.count === 3 && d.fields.length === 2, "the second batch's drift");
    const [t] = r.json.types;
    assert.ok(Math.abs(t.first_seen_ms - firstAt) < 60_000, JSON.stringify(t));
    assert.ok(Math.abs(t.last_seen_ms - secondAt) < 60_000, JSON.stringify(t));
    assert.ok(t.last_seen_ms - t.first_seen_ms > 4 * DAY_MS, JSON.stringify(t));
    const byField = Object.fromEntries(r.json.fields.map((f) => [f.field, f]));
    assert.deepEqual(Object.keys(byField).sort(), ["ai_open_score", "new_flag"]);
    assert.equal(byField.ai_open_score.count, 2);
    assert.equal(byField.ai_open_score.first_seen_ms, t.first_seen_ms, "the same first batch");
    assert.equal(byField.ai_open_score.example.length, 4, "the first example is kept");
    assert.deepEqual([byField.new_flag.kind, byField.new_flag.count], ["boolean", 1]);
    assert.equal(byField.new_flag.first_seen_ms, byField.new_flag.last_seen_ms);
    for (const secret of SECRETS) assert.ok(!r.text.includes(secret), secret);
  });

  test("DELETE resets it (204): the report is empty, and records again from there", async () => {
    const del = await h.admin("DELETE", `/admin/connectors/${ID}/drift`);
    assert.equal(del.status, 204, del.text);
    assert.equal(del.text, "");
    const r = await drift(ID);
    assert.deepEqual([r.json.types, r.json.fields, r.json.overflow], [[], [], 0], r.text);
    const stats = await h.stats(ID);
    assert.equal(stats.received, 6, "the stats are kept");

    const res = await h.post(ID, { events: [hologram("h4")] }, { token });
    assert.equal(res.status, 200, res.text);
    const again = await driftWhere(ID, (d) => d.types.length === 1, "drift after the reset");
    assert.equal(again.json.types[0].count, 1);
    assert.deepEqual(again.json.fields, []);
  });

  test("a connector created again under the id starts with an empty report (a new generation)", async () => {
    assert.equal((await h.admin("DELETE", `/admin/connectors/${ID}`)).status, 204);
    await createConnector(ID);
    const r = await drift(ID);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.types, r.json.fields], [[], []]);
  });
});

test("hostile batches: the bounds hold and the answer is still a 200", async () => {
  const ID = "drift-hostile";
  const token = await createConnector(ID);
  const nested = "[".repeat(5_000) + "]".repeat(5_000);
  const types = Array.from({ length: 150 }, (_, i) => event(`t${i}`, `users.new.T${String(i).padStart(3, "0")}`, { deep: "x" }));
  const props = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`${i}\u0000${"n".repeat(1_000)}`, i]));
  props.last = SECRETS[0];
  const body = JSON.stringify({ events: [...types, event("wide", OPEN, props)] }).replace('"deep":"x"', `"deep":${nested}`);
  const res = await h.post(ID, body, { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.received, 151);

  const r = await driftWhere(ID, (d) => d.types.length > 0 && d.fields.length > 0, "the hostile batch's drift");
  const d = r.json;
  assert.deepEqual([d.types.length, d.fields.length], [100, 100]);
  assert.equal(d.overflow, 50 + (2_001 - 100), "every occurrence that did not fit is counted");
  for (const e of [...d.types, ...d.fields]) {
    assert.ok(e.example.length <= 32);
    for (const name of [e.event_type, e.field ?? "", ...e.example.map(([n]) => n)]) {
      assert.ok(Buffer.byteLength(name) <= 64 + 3, `${Buffer.byteLength(name)} bytes`);
      assert.ok(!name.includes("\u0000"));
    }
  }
  const wide = d.fields[0];
  assert.deepEqual([wide.example.length, wide.example_omitted], [32, 2_001 - 32]);
  assert.ok(r.text.length < 1_100_000, `${r.text.length} bytes`);
  assert.ok(!r.text.includes(SECRETS[0]));
});

describe("the routes", () => {
  test("an unknown connector is 404 unknown_connector, for GET and DELETE", async () => {
    for (const method of ["GET", "DELETE"]) {
      const r = await h.admin(method, "/admin/connectors/never-created/drift");
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.code, "unknown_connector");
    }
  });

  test("the admin token is required (401 without it or with a wrong one)", async () => {
    for (const method of ["GET", "DELETE"]) {
      for (const token of [null, "wrong-token", ""]) {
        const r = await h.admin(method, "/admin/connectors/drift-e2e/drift", undefined, { token });
        assert.equal(r.status, 401, `${method} token=${token}: ${r.text}`);
        assert.equal(r.json.code, "unauthorized");
      }
    }
  });

  test("another method is 405 with Allow: GET, DELETE", async () => {
    const r = await h.admin("POST", "/admin/connectors/drift-e2e/drift", {});
    assert.equal(r.status, 405, r.text);
    assert.equal(r.headers.get("allow"), "GET, DELETE");
  });
});
