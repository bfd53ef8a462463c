// Each of the 82 golden events (one per known type) through the built Worker to the sink, compared with the
// expected Segment event in tests/golden/<type>.segment.json (deep-equal on parsed JSON).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { GOLDEN_DIR, loadGoldens, newToken, sha256hex, startHarness } from "./harness.mjs";

const CONNECTOR = "golden";
const KNOWN_TYPES = 82;
const goldens = loadGoldens();
const config = JSON.parse(readFileSync(path.join(GOLDEN_DIR, "connector.json"), "utf8"));
// Only the token hash differs from the golden config; it does not affect the output.
const token = newToken();
let h;

before(async () => {
  const keys = Object.fromEntries(
    Object.entries(config.destinations).map(([name, d]) => [name, d.write_key]),
  );
  h = await startHarness({ writeKeys: keys });
  await h.putConnector(CONNECTOR, { ...config, token_sha256: sha256hex(token) });
});
after(() => h?.close());

test(`there are ${KNOWN_TYPES} complete golden pairs`, () => {
  assert.equal(goldens.length, KNOWN_TYPES, `found ${goldens.length} *.braze.json in tests/golden`);
  const missing = goldens.filter((g) => g.segment === null).map((g) => g.type);
  assert.deepEqual(missing, [], "every *.braze.json needs its *.segment.json");
});

describe("one event per request", () => {
  for (const g of goldens) {
    test(g.type, async () => {
      const before = h.sink.batches.length;
      const res = await h.post(CONNECTOR, { events: [g.braze] }, { token });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, {
        received: 1,
        accepted: 1,
        filtered: 0,
        quarantined: 0,
        batches: 1,
        messages: 1,
      });
      // Delivery is asynchronous (the queue consumer): wait for the Segment request.
      await h.waitFor(() => h.sink.batches.length > before, { message: g.type });
      const fresh = h.sink.batches.slice(before);
      assert.equal(fresh.length, 1, "exactly one Segment request");
      assert.equal(fresh[0].auth, "valid");
      assert.equal(fresh[0].source, "main");
      assert.equal(fresh[0].region, "us");
      assert.equal(fresh[0].events.length, 1);
      assert.deepEqual(fresh[0].events[0], g.segment);
    });
  }
});

test("all golden samples in one request arrive as the same set", async () => {
  h.sink.reset();
  const res = await h.post(CONNECTOR, { events: goldens.map((g) => g.braze) }, { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, goldens.length);
  // Braze's samples share event ids, so count events, not distinct messageIds.
  await h.waitForEvents(goldens.length);
  const canon = (list) => list.map((e) => JSON.stringify(sortKeys(e))).sort();
  assert.deepEqual(canon(h.sink.events()), canon(goldens.map((g) => g.segment)));
});

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  }
  return v;
}
