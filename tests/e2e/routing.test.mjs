// Regions (us / eu / auto by request.cf), routing by app_id to two write keys, and the exact
// Basic credentials Segment expects.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  brazeEvent,
  connectorConfig,
  newToken,
  newWriteKey,
  sha256hex,
  startHarness,
} from "./harness.mjs";

const token = newToken();
const keys = {
  us: newWriteKey("us"),
  eu: newWriteKey("eu"),
  both: newWriteKey("both"),
  ios: newWriteKey("ios"),
  web: newWriteKey("web"),
};
const unknownKey = newWriteKey("unknown");
let h;

const dest = (writeKey, region) => ({ write_key: writeKey, region });

before(async () => {
  h = await startHarness({ writeKeys: keys, meterQueue: true });
  await h.putConnector("r-us", connectorConfig(token, keys.us));
  await h.putConnector("r-eu", {
    token_sha256: sha256hex(token),
    destinations: { main: dest(keys.eu, "eu") },
  });
  await h.putConnector("r-auto", {
    token_sha256: sha256hex(token),
    destinations: { main: dest(keys.both, "auto") },
  });
  await h.putConnector("r-apps", {
    token_sha256: sha256hex(token),
    destinations: { ios: dest(keys.ios, "eu"), web: dest(keys.web, "us") },
    default_destination: "web",
    routing: { by: "app_id", routes: { "app-ios": "ios" } },
  });
  await h.putConnector("r-badkey", connectorConfig(token, unknownKey));
});
after(() => h?.close());

/** Sends one event and returns the sink batches it produced. */
async function sendOne(connector, id, cf) {
  const before = h.sink.batches.length;
  const res = await h.post(connector, { events: [brazeEvent(id)] }, { token, cf });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, 1, res.text);
  // Delivery is asynchronous (the queue consumer): wait for the Segment request, then for the
  // queue to be idle, so these are all the requests the event produced.
  await h.waitFor(() => h.sink.batches.length > before, { message: id });
  await h.waitForQueueIdle();
  return h.sink.batches.slice(before);
}

describe("regions", () => {
  test("region us goes to the US endpoint", async () => {
    const [b, ...rest] = await sendOne("r-us", "reg-us");
    assert.equal(rest.length, 0);
    assert.equal(b.region, "us");
    assert.equal(b.source, "us");
  });

  test("region eu goes to the EU endpoint, whatever the caller's location", async () => {
    const [b] = await sendOne("r-eu", "reg-eu", { country: "US", continent: "NA" });
    assert.equal(b.region, "eu");
    assert.equal(b.source, "eu");
  });

  const auto = [
    ["DE / EU", { country: "DE", continent: "EU" }, "eu"],
    ["FR / EU", { country: "FR", continent: "EU" }, "eu"],
    ["US / NA", { country: "US", continent: "NA" }, "us"],
    ["JP / AS", { country: "JP", continent: "AS" }, "us"],
  ];
  for (const [label, cf, region] of auto) {
    test(`region auto from ${label} goes to ${region}`, async () => {
      const [b] = await sendOne("r-auto", `auto-${label}`, cf);
      assert.equal(b.region, region);
      assert.equal(b.source, "both");
    });
  }
});

describe("routing by app_id", () => {
  test("events land in the source of their app, others in the default", async () => {
    h.sink.reset();
    const events = [];
    for (let i = 0; i < 30; i++) {
      const app = i % 3 === 0 ? "app-ios" : i % 3 === 1 ? "app-web" : "app-other";
      events.push(brazeEvent(`route-${i}`, {
        properties: { app_id: app, campaign_id: "c" },
      }));
    }
    const res = await h.post("r-apps", { events }, { token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.accepted, 30);
    assert.equal(res.json.batches, 2, "one Segment request per destination");
    await h.waitForMessages(30);
    await h.waitForQueueIdle();
    const stats = h.sink.stats();
    assert.equal(stats.accepted_batches, 2, "one Segment request per destination");
    assert.deepEqual(stats.by_source, { ios: 10, web: 20 });
    assert.deepEqual(stats.by_region, { us: 20, eu: 10 });
    for (const b of h.sink.batches) {
      for (const e of b.events) {
        const expected = e.properties.app_id === "app-ios" ? "ios" : "web";
        assert.equal(b.source, expected, `${e.properties.app_id} went to ${b.source}`);
      }
    }
  });
});

describe("Segment credentials", () => {
  test("Authorization is Basic base64(writeKey + ':') for the right key", async () => {
    const [b] = await sendOne("r-us", "auth-ok");
    assert.equal(b.auth, "valid");
    assert.equal(b.source, "us");
  });

  test("a write key Segment does not know still gets 200 and is recorded invalid", async () => {
    const [b] = await sendOne("r-badkey", "auth-bad");
    assert.equal(b.auth, "invalid");
    assert.equal(b.source, null);
  });
});
