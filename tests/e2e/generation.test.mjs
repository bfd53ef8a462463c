// A connector deleted and created again under the same id is a new connector (its generation):
// the earlier connector's held events never reach the new one's Segment source; they end in
// quarantine as `connector_replaced`, kept under the earlier generation; the new connector's
// stats and quarantine listing start empty; an object of the earlier generation is not replayed
// with the new config.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brazeEvent, newWriteKey, startHarness, waitFor } from "./harness.mjs";

const WK_A = newWriteKey("gena");
const WK_B = newWriteKey("genb");
const ID = "recreated";

let h;
before(async () => {
  h = await startHarness({ writeKeys: { a: WK_A, b: WK_B }, meterQueue: true });
});
after(() => h?.close());

async function create(writeKey, paused) {
  const r = await h.admin("POST", "/admin/connectors", {
    id: ID,
    config: { paused, destinations: { main: { write_key: writeKey, region: "us" } } },
  });
  assert.equal(r.status, 201, r.text);
  return { token: r.json.token, generation: r.json.config.generation };
}

test("a re-created connector never sends, counts or lists the earlier connector's events", async () => {
  const first = await create(WK_A, true);
  assert.match(first.generation, /^[0-9a-f]{16}$/, "a generation is made at creation");
  const events = ["g-1", "g-2", "g-3"].map((id) => brazeEvent(id));
  const sent = await h.post(ID, { events }, { token: first.token });
  assert.equal(sent.json?.accepted, 3, sent.text);
  await waitFor(async () => ((await h.stats(ID)).held?.paused ?? 0) >= 3, { message: "held while paused" });

  // An edit keeps the generation, even when the body names another one.
  const edited = await h.admin("PUT", `/admin/connectors/${ID}`, {
    paused: true,
    generation: "forged",
    destinations: { main: { region: "us" } },
  });
  assert.equal(edited.status, 200, edited.text);
  assert.equal(edited.json.config.generation, first.generation);

  assert.equal((await h.admin("DELETE", `/admin/connectors/${ID}`)).status, 204);
  const second = await create(WK_B, false);
  assert.notEqual(second.generation, first.generation, "a new connector, a new generation");
  // The new connector starts from zero, before and after the earlier messages come due.
  const fresh = await h.stats(ID);
  assert.equal(fresh.received, 0);
  assert.deepEqual(fresh.held, {});

  await h.setClockOffset(10 * 60_000); // past the hold delay: the held messages come due
  const replaced = await waitFor(
    async () => {
      const objects = await h.listQuarantine(ID);
      return objects.find((o) => o.doc.reasons.connector_replaced === 3);
    },
    { timeoutMs: 30_000, message: "the earlier events in quarantine as connector_replaced" },
  );
  await h.setClockOffset(0);
  await h.settled();
  assert.equal(replaced.doc.generation, first.generation, "kept under the earlier generation");
  assert.equal(replaced.customMetadata.generation, first.generation);
  assert.equal(h.sink.events({ source: "b" }).length, 0, "nothing reached the new connector's source");
  assert.equal(h.sink.stats().accepted_events, 0, "nothing reached Segment at all");

  // Stats and listings are per generation.
  const stats = await h.stats(ID);
  assert.equal(stats.received, 0, JSON.stringify(stats));
  assert.deepEqual(stats.quarantined, {});
  const listed = await h.admin("GET", `/admin/quarantine?connector=${ID}`);
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(listed.json.objects, [], "the new connector's quarantine is empty");
  const earlier = await h.admin("GET", `/admin/quarantine?connector=${ID}&generation=${first.generation}`);
  assert.deepEqual(earlier.json.objects.map((o) => o.key), [replaced.key]);
  assert.equal(earlier.json.objects[0].generation, first.generation);

  // The earlier generation's object is not replayed with the new config.
  const replay = await h.admin("POST", "/admin/quarantine/replay", { key: replaced.key });
  assert.equal(replay.status, 409, replay.text);
  assert.equal(replay.json.code, "connector_replaced");
  const all = await h.admin("POST", "/admin/quarantine/replay", { connector: ID });
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.objects, 0, "a connector-wide replay leaves other generations alone");

  // The new connector's own events go to its own source.
  const own = await h.post(ID, { events: [brazeEvent("g-new")] }, { token: second.token });
  assert.equal(own.json?.accepted, 1, own.text);
  await waitFor(() => h.sink.events({ source: "b" }).length === 1, { message: "the new connector delivers" });
  await h.settled();
  assert.equal(h.sink.events({ source: "a" }).length, 0);
  assert.equal((await h.stats(ID)).delivered, 1);
});
