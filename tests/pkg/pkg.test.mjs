// pkg/ (the translator built for JavaScript) gives exactly what the Worker sends: the same
// Braze samples go through pkg/node's translateBatch and through the built Worker under
// Miniflare to the Segment sink, and each track call's text must be in the Worker's request
// bodies byte for byte (a recorder between the Worker and the sink keeps them as sent).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  GOLDEN_DIR, ROOT, loadGoldens, loadSamples, newToken, r2Objects, sha256hex, startHarness, waitFor,
} from "../e2e/harness.mjs";
import { prettyJson } from "../../www/results.js";

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
let recorder;
/** Every Segment request body the Worker sent, as text. */
const sent = [];

/** Records each request body, then passes the request on to the sink and its answer back. */
async function startRecorder(target) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      sent.push(body.toString("utf8"));
      const headers = { "content-type": req.headers["content-type"] ?? "application/json" };
      if (req.headers.authorization) headers.authorization = req.headers.authorization;
      const answer = await fetch(`${target()}${req.url}`, { method: req.method, headers, body });
      res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

before(async () => {
  const keys = Object.fromEntries(Object.entries(config.destinations).map(([n, d]) => [n, d.write_key]));
  recorder = await startRecorder(() => h.sink.url);
  h = await startHarness({
    writeKeys: keys,
    bindings: { SEGMENT_US_URL: `${recorder.url}/us/v1/batch`, SEGMENT_EU_URL: `${recorder.url}/eu/v1/batch` },
  });
  await h.putConnector(CONNECTOR, { ...config, token_sha256: sha256hex(token) });
});
after(async () => {
  await h?.close();
  recorder?.close();
});

const tracks = (outcome) => outcome.batches.flatMap((b) => b.events.map((e) => e.json));
/** Drift entries without their times (when the batch was translated: each call reads the clock). */
const timeless = (list) => list.map(({ first_seen_ms, last_seen_ms, ...rest }) => rest);
/** An outcome whose drift report carries no times. */
const untimed = (o) => ({ ...o, drift: { ...o.drift, types: timeless(o.drift.types), fields: timeless(o.drift.fields) } });

test("pkg translateBatch equals the Worker's output for every Braze sample", async () => {
  const events = loadSamples();
  assert.equal(events.length, 93);
  const body = JSON.stringify({ events });
  const local = relay.translateBatch(body, config, CONNECTOR);
  const res = await h.post(CONNECTOR, body, { token });
  assert.equal(res.status, 200, res.text);
  const { received, accepted, filtered, quarantined, batches } = res.json;
  assert.deepEqual(local.summary, { received, accepted, filtered, quarantined, batches }, "summary = the Worker's answer");
  assert.equal(local.received, received);
  const fromPkg = tracks(local);
  assert.equal(fromPkg.length, accepted);
  // Delivery is asynchronous (the queue consumer) and queue messages may arrive in any order
  // (Braze's samples share event ids, so count events, not distinct messageIds).
  await h.waitForEvents(fromPkg.length);
  const canon = (list) => list.map((e) => JSON.stringify(e)).sort();
  assert.deepEqual(canon(h.sink.events()), canon(fromPkg.map((t) => JSON.parse(t))), "same events, same content");
  const wire = sent.join("\n");
  for (const text of fromPkg) assert.ok(wire.includes(text), `the Worker sent this text byte for byte: ${text}`);
});

test("numbers JavaScript cannot hold reach the page as the Worker sends them", async () => {
  const literals = '"big":9007199254740993,"huge":1e400,"price":1.50,"tiny":-0.0e-7';
  const event = (id, time) =>
    `{"id":"${id}","event_type":"users.messages.email.Send","time":${time},` +
    `"user":{"user_id":"u-${id}","external_user_id":"x-${id}"},"properties":{${literals}}}`;
  const bad = event("big-2", -5);
  const body = `{"events":[${event("big-1", 1700000000)},${bad}]}`;
  const local = relay.translateBatch(body, config, CONNECTOR);
  const [track] = tracks(local);
  assert.ok(track.includes(literals), track);
  assert.equal(local.quarantined[0].raw, bad, "quarantined as received");
  assert.deepEqual(untimed(JSON.parse(relay.translateBatchJson(body, configText, CONNECTOR))), untimed(local), "both routes agree");
  // What the page prints: indented, every literal kept (JSON.parse would give 9007199254740992 and Infinity).
  const shown = prettyJson(track);
  for (const literal of literals.split(",")) assert.ok(shown.includes(literal.replace(":", ": ")), shown);
  assert.deepEqual(JSON.parse(shown), JSON.parse(track));

  const before = sent.length;
  const res = await h.post(CONNECTOR, body, { token });
  assert.equal(res.status, 200, res.text);
  await h.waitFor(() => sent.slice(before).some((b) => b.includes(track)), {
    message: "the Worker sends the track call as pkg gives it",
  });
  const stored = (await r2Objects(h.r2, "quarantine/")).map((o) => o.text).join("\n");
  assert.ok(stored.includes(bad), "the Worker keeps the raw event as pkg gives it");
});

test("pkg reports the batch's drift exactly as the Worker records it in the connector's report", async () => {
  const id = "pkg-drift";
  await h.putConnector(id, { ...config, token_sha256: sha256hex(token) });
  const user = { user_id: "b-1", external_user_id: "u-1" };
  const events = [
    ...loadSamples(),
    { id: "d-1", event_type: "users.messages.hologram.Send", time: 1767225600, user, properties: { hologram_id: 7, viewer: "jane.doe@example.com" } },
    { id: "d-2", event_type: "users.messages.email.Open", time: 1767225600, user, properties: { campaign_id: "c", relay_test_score: 0.5 } },
  ];
  const body = JSON.stringify({ events });
  const local = relay.translateBatch(body, config, id);
  const hologram = local.drift.types.find((t) => t.event_type === "users.messages.hologram.Send");
  assert.deepEqual(hologram.example, [["hologram_id", "number"], ["viewer", "string"]]);
  assert.ok(local.drift.fields.some((f) => f.field === "relay_test_score" && f.kind === "number"), JSON.stringify(local.drift.fields));
  assert.ok(!JSON.stringify(local.drift).includes("jane.doe"), "names and kinds only");
  assert.deepEqual(untimed(JSON.parse(relay.translateBatchJson(body, config, id))).drift, untimed(local).drift, "both routes agree");
  const before = Date.now();
  const all = [...local.drift.types, ...local.drift.fields];
  assert.ok(all.every((e) => e.first_seen_ms === e.last_seen_ms && Math.abs(e.first_seen_ms - before) < 60_000), "seen when translated");

  const res = await h.post(id, body, { token });
  assert.equal(res.status, 200, res.text);
  // Times differ (the page's clock, the Worker's): everything else is the same.
  const worker = await waitFor(async () => {
    const r = await h.admin("GET", `/admin/connectors/${id}/drift`);
    return r.status === 200 && r.json.types.length > 0 && r.json;
  }, { message: "the Worker's drift report" });
  assert.deepEqual(timeless(worker.types), timeless(local.drift.types));
  assert.deepEqual(timeless(worker.fields), timeless(local.drift.fields));
  assert.equal(worker.overflow, local.drift.overflow);
});

test("pkg output equals the golden files", () => {
  for (const g of loadGoldens()) {
    const out = relay.translateBatch(JSON.stringify({ events: [g.braze] }), configText, CONNECTOR);
    assert.equal(out.batches.length, 1, g.type);
    assert.deepEqual(JSON.parse(out.batches[0].events[0].json), g.segment, g.type);
  }
});

test("pkg reports filtered and quarantined events with reasons", () => {
  const body = JSON.stringify({
    events: [
      { id: "a", event_type: "users.messages.email.Send", time: 1, user: { user_id: "b" } },
      { id: "b", event_type: "users.messages.email.Send", time: -5 },
    ],
  });
  const out = relay.translateBatch(body);
  assert.deepEqual(out.filtered.map((f) => f.reason), ["anonymous_user"]);
  assert.deepEqual(out.quarantined.map((q) => q.reason), ["invalid_time"]);
  assert.deepEqual(out.summary, { received: 2, accepted: 0, filtered: 1, quarantined: 1, batches: 0 });
  assert.deepEqual(untimed(relay.translateBatch(body, "{}")), untimed(out), "JSON text or nothing: the same empty config");
  const anon = relay.translateBatch(body, { identity: { include_anonymous: true } });
  assert.equal(JSON.parse(anon.batches[0].events[0].json).anonymousId, "b");
  assert.equal(Object.getPrototypeOf(anon.batches[0]), Object.prototype, "plain objects, not Maps");
});

test("pkg throws structured errors", () => {
  assert.throws(() => relay.translateBatch("[1]", {}), (e) => e.code === "not_an_object");
  for (const bad of [{ naming: { profile: "klingon" } }, JSON.stringify({ naming: { profile: "klingon" } })]) {
    assert.throws(
      () => relay.translateBatch("{}", bad),
      (e) => e.code === "invalid_config" && e.errors[0].field === "naming.profile",
    );
  }
  assert.throws(() => relay.translateBatch("{}", "{not json"), (e) => e.code === "invalid_config" && e.errors[0].field === "");
  assert.equal(relay.knownEventTypes().length, 82);
});

test("pkg validateConfig takes an object or JSON text and returns a plain object", () => {
  const missing = relay.validateConfig({ destinations: {} });
  assert.deepEqual(missing.errors.map((e) => e.field), ["token_sha256"]);
  assert.equal(missing.valid, false);
  assert.deepEqual(relay.validateConfig(JSON.stringify({ destinations: {} })), missing);
  assert.deepEqual(relay.validateConfig({ ...config, token_sha256: "0".repeat(64) }), { valid: true, errors: [] });
  const syntax = relay.validateConfig("{");
  assert.equal(syntax.valid, false);
  assert.equal(syntax.errors[0].field, "");
});
