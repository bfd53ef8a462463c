// Every answer the Worker gives Braze (CONTRACTS §4), through the real build under workerd.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import {
  brazeEvent,
  connectorConfig,
  newToken,
  newWriteKey,
  startHarness,
} from "./harness.mjs";

const MIB = 1024 * 1024;
let h;
const token = newToken();
const writeKey = newWriteKey("status");

before(async () => {
  h = await startHarness({ writeKeys: { main: writeKey } });
  await h.putConnector("ok", connectorConfig(token, writeKey));
  await h.putConnector("paused", connectorConfig(token, writeKey, { paused: true }));
  await h.putConnector("broken-json", "{not json");
  await h.putConnector("broken-schema", { token_sha256: "00", destinations: {} });
  await h.putConnector("flaky", connectorConfig(token, writeKey));
});
after(() => h?.close());

/** Asserts a problem+json answer with the given status and code. */
function assertProblem(res, status, code) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(res.json?.code, code, res.text);
}

describe("routes", () => {
  test("GET /health answers 200 JSON", async () => {
    const res = await h.fetch("/health");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /json/);
    assert.equal(typeof (await res.json()), "object");
  });

  test("HEAD /health answers 200 without a body; another method is 405 with Allow: GET, HEAD", async () => {
    const res = await h.fetch("/health", { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
    const other = await h.fetch("/health", { method: "POST", body: "{}" });
    assert.equal(other.status, 405);
    assert.equal(other.headers.get("allow"), "GET, HEAD");
    assert.equal((await other.json()).code, "method_not_allowed");
  });

  test("unknown connector is 404 unknown_connector", async () => {
    assertProblem(await h.post("nobody", { events: [] }, { token }), 404, "unknown_connector");
  });
});

describe("authentication", () => {
  test("missing bearer token is 401", async () => {
    assertProblem(await h.post("ok", { events: [brazeEvent("a1")] }), 401, "unauthorized");
  });

  test("wrong bearer token is 401", async () => {
    const res = await h.post("ok", { events: [brazeEvent("a2")] }, { token: newToken() });
    assertProblem(res, 401, "unauthorized");
  });

  test("a non-Bearer scheme is 401", async () => {
    const res = await h.post("ok", { events: [brazeEvent("a3")] }, {
      headers: { authorization: `Basic ${Buffer.from(`${token}:`).toString("base64")}` },
    });
    assertProblem(res, 401, "unauthorized");
  });

  test("a wrong token is rejected before the body is parsed", async () => {
    assertProblem(await h.post("ok", "{not json", { token: "nope" }), 401, "unauthorized");
  });

  test("nothing reaches Segment from unauthenticated requests", () => {
    assert.equal(h.sink.stats().requests, 0);
  });
});

describe("configuration", () => {
  test("config that is not JSON is 503 connector_misconfigured", async () => {
    const res = await h.post("broken-json", { events: [] }, { token });
    assertProblem(res, 503, "connector_misconfigured");
  });

  test("config that fails validation is 503 connector_misconfigured", async () => {
    const res = await h.post("broken-schema", { events: [] }, { token });
    assertProblem(res, 503, "connector_misconfigured");
  });

  test("a paused connector accepts (200) and holds the events", async () => {
    const res = await h.post("paused", { events: [brazeEvent("p1")] }, { token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.accepted, 1);
    const stats = await h.waitFor(async () => {
      const s = await h.stats("paused");
      return (s.held?.paused ?? 0) >= 1 && s;
    });
    assert.equal(stats.delivered, 0);
    assert.equal(h.sink.stats().requests, 0, "nothing sent while paused");
  });
});

describe("request bodies", () => {
  test("body over 8 MiB is 413 body_too_large", async () => {
    const body = `{"events":[],"pad":"${"x".repeat(8 * MIB)}"}`;
    assertProblem(await h.post("ok", body, { token }), 413, "body_too_large");
  });

  test("body just under 8 MiB is not 413", async () => {
    const pad = 8 * MIB - 64;
    const body = `{"events":[],"pad":"${"x".repeat(pad)}"}`;
    assert.ok(Buffer.byteLength(body) < 8 * MIB);
    const res = await h.post("ok", body, { token });
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });

  const bad = [
    ["invalid_json", "{\"events\": ["],
    ["not_an_object", "[]"],
    ["missing_events", "{}"],
    ["events_not_array", "{\"events\": {}}"],
    ["invalid_utf8", Buffer.from([0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ];
  test("a compressed body is 415 unsupported_encoding (after the token check); identity is plain", async () => {
    const gz = new Uint8Array(gzipSync(JSON.stringify({ events: [brazeEvent("gz-1")] })));
    for (const encoding of ["gzip", "br", "deflate", "gzip, identity"]) {
      const res = await h.post("ok", gz, { token, headers: { "content-encoding": encoding } });
      assertProblem(res, 415, "unsupported_encoding");
      assert.equal(res.headers.get("accept-encoding"), "identity");
    }
    assertProblem(await h.post("ok", gz, { token: "nope", headers: { "content-encoding": "gzip" } }), 401, "unauthorized");
    const plain = await h.post("ok", { events: [] }, { token, headers: { "content-encoding": "identity" } });
    assert.equal(plain.status, 200, plain.text);
  });

  for (const [code, body] of bad) {
    test(`${code} is 400 ${code}`, async () => {
      const payload = typeof body === "string" ? body : new Uint8Array(body);
      assertProblem(await h.post("ok", payload, { token }), 400, code);
    });
  }
});

describe("empty-batch probe (Braze checks credentials with it)", () => {
  const zeros = { received: 0, accepted: 0, filtered: 0, quarantined: 0, batches: 0, messages: 0 };

  test("empty body with the right token is 200 with zero counts", async () => {
    const res = await h.post("ok", "", { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, zeros);
  });

  test("zero events with the right token is 200 with zero counts", async () => {
    const res = await h.post("ok", { events: [] }, { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, zeros);
  });

  test("empty body with a wrong token is 401", async () => {
    assertProblem(await h.post("ok", "", { token: newToken() }), 401, "unauthorized");
  });

  test("empty body without a token is 401", async () => {
    assertProblem(await h.post("ok", ""), 401, "unauthorized");
  });

  test("probes do not call Segment", () => {
    assert.equal(h.sink.stats().requests, 0);
  });
});

describe("success", () => {
  test("summary counts accepted, filtered and quarantined events", async () => {
    h.sink.reset();
    const anonymous = brazeEvent("s-anon");
    delete anonymous.user.external_user_id;
    const noTime = brazeEvent("s-notime");
    delete noTime.time;
    const events = [brazeEvent("s1"), brazeEvent("s2"), anonymous, noTime, brazeEvent("s3")];
    const res = await h.post("ok", { events }, { token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {
      received: 5,
      accepted: 3,
      filtered: 1,
      quarantined: 1,
      batches: 1,
      messages: 1,
    });
    await h.waitForMessages(3);
    const stats = h.sink.stats();
    assert.equal(stats.accepted_batches, 1);
    assert.equal(stats.accepted_events, 3);
    assert.deepEqual(stats.by_source, { main: 3 });
    assert.deepEqual(
      h.sink.events().map((e) => e.userId).sort(),
      ["ext-s1", "ext-s2", "ext-s3"],
    );
  });

  test("the Segment request carries sentAt of the attempt", async () => {
    const before = Date.now();
    h.sink.reset();
    const res = await h.post("ok", { events: [brazeEvent("t1")] }, { token });
    assert.equal(res.status, 200, res.text);
    await h.waitForMessages(1);
    const [batch] = h.sink.batches;
    const sentAt = Date.parse(batch.sentAt);
    assert.ok(Number.isFinite(sentAt), `sentAt ${batch.sentAt}`);
    assert.ok(sentAt >= before - 5_000 && sentAt <= Date.now() + 5_000, batch.sentAt);
  });
});

describe("Segment failures (retried in the background, never answered 503)", () => {
  /** Waits until the sink has injected `mode` at least once (the consumer did call it). */
  const faulted = (mode) =>
    h.waitFor(() => (h.sink.stats().faults[mode] ?? 0) >= 1, { message: `no ${mode} injected` });

  for (const mode of ["503", "500", "429", "drop"]) {
    test(`Segment ${mode}: 200 to Braze, then delivered once Segment recovers`, async () => {
      h.sink.reset();
      h.sink.setFaults({ rate: 1, modes: [mode], retryAfter: 1, seed: 7 });
      try {
        const res = await h.post("flaky", { events: [brazeEvent(`f-${mode}`)] }, { token });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.accepted, 1);
        await faulted(mode);
        assert.equal(h.sink.stats().accepted_events, 0);
      } finally {
        h.sink.setFaults(null);
      }
      await h.waitForMessages(1, { timeoutMs: 30_000 });
      assert.equal(h.sink.stats().accepted_events, 1);
    });
  }

  test("Segment's Retry-After on a 429 delays the next attempt", async () => {
    h.sink.reset();
    h.sink.setFaults({ next: [429], retryAfter: 3 });
    try {
      const res = await h.post("flaky", { events: [brazeEvent("ra-1")] }, { token });
      assert.equal(res.status, 200, res.text);
      await faulted("429");
      const faultedAt = Date.now();
      await h.waitForMessages(1, { timeoutMs: 30_000 });
      const waited = Date.now() - faultedAt;
      assert.ok(waited >= 2_000, `retried after ${waited} ms, Retry-After was 3 s`);
    } finally {
      h.sink.setFaults(null);
    }
  });

  test("Braze's resend after an outage is deduped by messageId", async () => {
    h.sink.reset();
    const events = [brazeEvent("r1"), brazeEvent("r2")];
    h.sink.setFaults({ rate: 1, modes: ["503"], retryAfter: 1 });
    const first = await h.post("flaky", { events }, { token });
    assert.equal(first.status, 200, first.text);
    await faulted("503");
    h.sink.setFaults(null);
    const again = await h.post("flaky", { events }, { token });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.accepted, 2);
    await h.waitForMessages(2, { timeoutMs: 30_000 });
    // The first copy is still being retried: wait for it too, so both copies have arrived
    // (and nothing of this test reaches the next one's sink).
    await h.waitFor(() => h.sink.stats().accepted_events >= 4, { timeoutMs: 30_000 });
    assert.equal(h.sink.stats().accepted_events, 4, "the resend and the retried original");
    assert.equal(h.sink.stats().distinct_message_ids, 2, "same messageIds: Segment dedupes");
  });

  test("a single transient Segment error is retried and delivered", async () => {
    h.sink.reset();
    h.sink.setFaults({ next: [503] });
    try {
      const res = await h.post("flaky", { events: [brazeEvent("once")] }, { token });
      assert.equal(res.status, 200, res.text);
      await h.waitForMessages(1, { timeoutMs: 30_000 });
      assert.equal(h.sink.stats().accepted_events, 1);
      assert.ok(h.sink.stats().faults["503"] >= 1, "the first attempt did fail");
      const stats = await h.waitFor(async () => {
        const s = await h.stats("flaky");
        return s.retried >= 1 && s.delivered >= 1 && s;
      });
      assert.ok(stats.last_success_ms > 0);
    } finally {
      h.sink.setFaults(null);
    }
  });
});
