// The connector admin API (docs/ADMIN_API.md) against the built Worker: every admin route refuses
// a missing or wrong ADMIN_TOKEN; create, read, update, delete, rotate-token, pause and resume do
// what Braze's requests then see; 422 names the fields; no answer ever holds a write key or a
// token hash; CORS only for CONSOLE_ORIGIN; the Worker serves the Playground and the Console.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import {
  ADMIN_TOKEN,
  brazeEvent,
  connectorConfig,
  newToken,
  newWriteKey,
  sha256hex,
  startHarness,
  waitFor,
} from "./harness.mjs";

const WK = newWriteKey("adm");
const WK_EU = newWriteKey("admeu");
const ID = "admin-e2e";
/** Every row of src/admin/routes.rs's route table (the native test checks the table itself). */
const ROUTES = [
  ["GET", "/admin/connectors"],
  ["POST", "/admin/connectors"],
  ["GET", `/admin/connectors/${ID}`],
  ["PUT", `/admin/connectors/${ID}`],
  ["DELETE", `/admin/connectors/${ID}`],
  ["POST", `/admin/connectors/${ID}/rotate-token`],
  ["POST", `/admin/connectors/${ID}/pause`],
  ["POST", `/admin/connectors/${ID}/resume`],
  ["GET", `/admin/connectors/${ID}/stats`],
  ["GET", `/admin/connectors/${ID}/drift`],
  ["DELETE", `/admin/connectors/${ID}/drift`],
  ["GET", `/admin/quarantine?connector=${ID}`],
  ["GET", "/admin/quarantine/object?key=quarantine/x/y.json"],
  ["POST", "/admin/quarantine/replay"],
];

let h;
/** Every admin answer body, to search for secrets at the end. */
const bodies = [];
async function admin(method, pathname, body, opts) {
  const r = await h.admin(method, pathname, body, opts);
  bodies.push(r.text);
  return r;
}
const config = () => ({
  description: "e2e connector",
  destinations: { main: { write_key: WK, region: "us" }, eu: { write_key: WK_EU, region: "eu" } },
  default_destination: "main",
});

before(async () => {
  h = await startHarness({ writeKeys: { main: WK, eu: WK_EU } });
});
after(() => h?.close());

test("every admin route refuses a missing or wrong admin token (401) and touches nothing", async () => {
  for (const [method, pathname] of ROUTES) {
    const body = method === "GET" || method === "DELETE" ? undefined : { id: "x", config: config() };
    for (const token of [null, "wrong-token", ""]) {
      const r = await admin(method, pathname, body, { token });
      assert.equal(r.status, 401, `${method} ${pathname} token=${token}: ${r.text}`);
      assert.equal(r.json.code, "unauthorized");
      assert.equal(r.headers.get("www-authenticate"), "Bearer");
    }
  }
  assert.equal(await h.kv.get(`connector:${ID}`), null, "nothing was created");
});

test("a Worker without ADMIN_TOKEN refuses every admin route, even with a token", async () => {
  const bare = await startHarness({ bindings: { ADMIN_TOKEN: "" } });
  try {
    for (const [method, pathname] of ROUTES) {
      const r = await bare.admin(method, pathname, undefined, { token: "" });
      assert.equal(r.status, 401, `${method} ${pathname}`);
      const r2 = await bare.admin(method, pathname, undefined, { token: "anything" });
      assert.equal(r2.status, 401, `${method} ${pathname}`);
    }
  } finally {
    await bare.close();
  }
});

describe("connector lifecycle", () => {
  let token;

  test("create: 201 with the redacted config and a token shown once; the token works at ingest", async () => {
    const r = await admin("POST", "/admin/connectors", { id: ID, config: config() });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.id, ID);
    token = r.json.token;
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, "32 random bytes, base64url");
    assert.equal(r.json.config.destinations.main.write_key, `****${WK.slice(-4)}`);
    assert.equal(r.json.config.token_sha256, undefined);
    const stored = JSON.parse(await h.kv.get(`connector:${ID}`));
    assert.equal(stored.token_sha256, sha256hex(token), "only the hash is stored");
    assert.equal(stored.destinations.main.write_key, WK, "KV keeps the key (a JSON string, not {})");
    const sent = await h.post(ID, { events: [brazeEvent("c-1")] }, { token });
    assert.equal(sent.status, 200, sent.text);
    await h.waitForMessages(1);
  });

  test("create again: 409 connector_exists; bad bodies 400; bad configs 422 with field paths", async () => {
    const again = await admin("POST", "/admin/connectors", { id: ID, config: config() });
    assert.equal(again.status, 409, again.text);
    assert.equal(again.json.code, "connector_exists");
    for (const bad of ["nope", { id: "a/b", config: config() }, { config: config() }]) {
      const r = await admin("POST", "/admin/connectors", bad);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.code, "invalid_admin_request");
    }
    const r = await admin("POST", "/admin/connectors", {
      id: "bad-one",
      config: { retention_hours: 0, destinations: { main: { write_key: "bad:key", region: "us" } } },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.headers.get("content-type"), "application/problem+json");
    assert.equal(r.json.code, "invalid_config");
    const fields = r.json.errors.map((e) => e.field).sort();
    assert.deepEqual(fields, ["destinations.main.write_key", "retention_hours"]);
    assert.ok(r.json.errors.every((e) => e.message), r.text);
    assert.equal(await h.kv.get("connector:bad-one"), null);
  });

  test("list: summary and health of every connector", async () => {
    await waitFor(async () => (await h.stats(ID)).delivered === 1);
    const r = await admin("GET", "/admin/connectors");
    assert.equal(r.status, 200, r.text);
    const row = r.json.connectors.find((c) => c.id === ID);
    assert.ok(row, r.text);
    assert.equal(row.description, "e2e connector");
    assert.equal(row.paused, false);
    assert.deepEqual(row.destinations.map((d) => d.name).sort(), ["eu", "main"]);
    assert.equal(row.health.delivered, 1);
    assert.equal(row.health.quarantined, 0);
    assert.equal(row.health.held, 0);
    assert.ok(row.health.last_success_ms > 0);
  });

  test("get and put: redacted keys kept; 422 with field paths saves nothing; 404 for unknown ids", async () => {
    const got = await admin("GET", `/admin/connectors/${ID}`);
    assert.equal(got.status, 200, got.text);
    const view = got.json.config;
    const bad = await admin("PUT", `/admin/connectors/${ID}`, { ...view, destinations: { main: { region: "mars" } } });
    assert.equal(bad.status, 422, bad.text);
    assert.deepEqual(bad.json.errors.map((e) => e.field), ["destinations.main.region"]);
    const put = await admin("PUT", `/admin/connectors/${ID}`, { ...view, description: "edited", retention_hours: 48 });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.config.description, "edited");
    const stored = JSON.parse(await h.kv.get(`connector:${ID}`));
    assert.equal(stored.retention_hours, 48);
    assert.equal(stored.destinations.main.write_key, WK, "the redacted key sent back keeps the stored key");
    assert.equal(stored.destinations.eu.write_key, WK_EU);
    assert.equal(stored.token_sha256, sha256hex(token), "an update keeps the token");
    for (const [method, body] of [["GET"], ["PUT", view], ["DELETE"], ["POST"]]) {
      const p = method === "POST" ? "/admin/connectors/nobody/pause" : "/admin/connectors/nobody";
      const r = await admin(method, p, body);
      assert.equal(r.status, 404, `${method} ${r.text}`);
      assert.equal(r.json.code, "unknown_connector");
    }
    const wrong = await admin("PATCH", `/admin/connectors/${ID}`, {});
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET, PUT, DELETE");
  });

  test("rotate-token: the new token is shown once; the old one gets 401 at once, the new one 200", async () => {
    const r = await admin("POST", `/admin/connectors/${ID}/rotate-token`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ["token"]);
    assert.notEqual(r.json.token, token);
    const old = await h.post(ID, { events: [brazeEvent("r-1")] }, { token });
    assert.equal(old.status, 401, old.text);
    token = r.json.token;
    const fresh = await h.post(ID, { events: [brazeEvent("r-2")] }, { token });
    assert.equal(fresh.status, 200, fresh.text);
    await h.waitForMessages(2);
  });

  test("pause holds accepted events; resume delivers them", async () => {
    const p = await admin("POST", `/admin/connectors/${ID}/pause`);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.config.paused, true);
    const before = h.sink.stats().distinct_message_ids;
    const sent = await h.post(ID, { events: [brazeEvent("p-1"), brazeEvent("p-2")] }, { token });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.json.accepted, 2);
    await waitFor(async () => ((await h.stats(ID)).held?.paused ?? 0) >= 2, { message: "held while paused" });
    assert.equal(h.sink.stats().distinct_message_ids, before, "nothing sent while paused");
    const list = await admin("GET", "/admin/connectors");
    const row = list.json.connectors.find((c) => c.id === ID);
    assert.equal(row.paused, true);
    assert.ok(row.health.held >= 2, list.text);
    const r = await admin("POST", `/admin/connectors/${ID}/resume`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.config.paused, false);
    await h.setClockOffset(10 * 60_000); // past the hold delay, so the held messages come due
    await h.waitForMessages(before + 2, { timeoutMs: 30_000 });
    await h.setClockOffset(0);
  });

  test("delete: 204, gone from the list, and Braze's requests get 404", async () => {
    const r = await admin("DELETE", `/admin/connectors/${ID}`);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, "");
    assert.equal(await h.kv.get(`connector:${ID}`), null);
    const list = await admin("GET", "/admin/connectors");
    assert.ok(!list.json.connectors.some((c) => c.id === ID));
    const sent = await h.post(ID, { events: [brazeEvent("d-1")] }, { token });
    assert.equal(sent.status, 404, sent.text);
    assert.equal(sent.json.code, "unknown_connector");
  });

  test("no admin answer held a write key, a token hash, or the admin token", () => {
    assert.ok(bodies.length > 20);
    const all = bodies.join("\n");
    for (const secret of [WK, WK_EU, sha256hex(token)]) assert.ok(!all.includes(secret), "a secret leaked");
    assert.ok(!h.logText().includes(WK) && !h.logText().includes(token), "a secret was logged");
  });
});

describe("requests at the edges", () => {
  test("the admin API takes the Bearer scheme in any case, as ingest does", async () => {
    for (const scheme of ["bearer", "BEARER", "Bearer"]) {
      const r = await h.fetch("/admin/connectors", { headers: { authorization: `${scheme} ${ADMIN_TOKEN}` } });
      assert.equal(r.status, 200, `${scheme}: ${await r.text()}`);
      await r.arrayBuffer().catch(() => {});
    }
    for (const auth of [`Basic ${ADMIN_TOKEN}`, `Bearer${ADMIN_TOKEN}`, `bearer wrong-${ADMIN_TOKEN}`]) {
      const r = await h.fetch("/admin/connectors", { headers: { authorization: auth } });
      assert.equal(r.status, 401);
      assert.equal((await r.json()).code, "unauthorized");
    }
  });

  test("stats of a connector that does not exist: 404 unknown_connector", async () => {
    const r = await admin("GET", "/admin/connectors/never-created/stats");
    assert.equal(r.status, 404, r.text);
    assert.equal(r.headers.get("content-type"), "application/problem+json");
    assert.equal(r.json.code, "unknown_connector");
  });

  test("description: 1,024 bytes accepted, more is 422 invalid_config naming `description`", async () => {
    const long = await admin("POST", "/admin/connectors", {
      id: "described",
      config: { ...config(), description: "é".repeat(513) }, // 1,026 bytes
    });
    assert.equal(long.status, 422, long.text);
    assert.equal(long.json.code, "invalid_config");
    assert.deepEqual(long.json.errors.map((e) => e.field), ["description"]);
    assert.equal(await h.kv.get("connector:described"), null);
    const ok = await admin("POST", "/admin/connectors", { id: "described", config: { ...config(), description: "d".repeat(1024) } });
    assert.equal(ok.status, 201, ok.text);
    const put = await admin("PUT", "/admin/connectors/described", { ...ok.json.config, description: "x".repeat(7 * 1024 * 1024) });
    assert.equal(put.status, 422, put.text.slice(0, 300));
    assert.deepEqual(put.json.errors.map((e) => e.field), ["description"]);
    assert.equal((await admin("DELETE", "/admin/connectors/described")).status, 204);
  });

  test("a compressed admin body is 415 unsupported_encoding", async () => {
    const r = await h.fetch("/admin/connectors", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", "content-encoding": "gzip" },
      body: gzipSync(JSON.stringify({ id: "zipped", config: config() })),
    });
    assert.equal(r.status, 415);
    assert.equal(r.headers.get("content-type"), "application/problem+json");
    assert.equal((await r.json()).code, "unsupported_encoding");
    assert.equal(await h.kv.get("connector:zipped"), null);
  });
});

describe("unknown connector ids under a config cache (CONFIG_CACHE_SECONDS = 30)", () => {
  let c;
  before(async () => {
    c = await startHarness({ writeKeys: { main: WK }, bindings: { CONFIG_CACHE_SECONDS: "30" } });
  });
  after(() => c?.close());

  test("an unknown id is remembered briefly; a document written behind the admin API waits it out", async () => {
    const token = newToken();
    const started = Date.now();
    const first = await c.post("behind-the-back", { events: [] }, { token });
    assert.equal(first.status, 404, first.text);
    assert.equal(first.json.code, "unknown_connector");
    await c.putConnector("behind-the-back", connectorConfig(token, WK));
    const again = await c.post("behind-the-back", { events: [] }, { token });
    // The absence is kept for at most 5 s: only meaningful while that has not passed.
    if (Date.now() - started < 4_000) {
      assert.equal(again.status, 404, `the absence was not remembered: ${again.text}`);
    }
  });

  test("a connector created through the admin API right after a 404 is accepted on the next request", async () => {
    const id = "created-after-404";
    const first = await c.post(id, { events: [] }, { token: newToken() });
    assert.equal(first.status, 404, first.text);
    const created = await c.admin("POST", "/admin/connectors", { id, config: config() });
    assert.equal(created.status, 201, created.text);
    const sent = await c.post(id, { events: [brazeEvent("after-404")] }, { token: created.json.token });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.json.accepted, 1);
  });

  test("malformed ids are refused before any storage call", async () => {
    for (const id of ["a.b", "x".repeat(65), "%20"]) {
      const r = await c.post(id, { events: [] }, { token: newToken() });
      assert.equal(r.status, 404, `${id}: ${r.text}`);
      assert.equal(r.json.code, "unknown_connector");
    }
  });
});

describe("CORS", () => {
  const CONSOLE = "https://console.example.com";
  let c;
  before(async () => {
    c = await startHarness({ bindings: { CONSOLE_ORIGIN: CONSOLE } });
  });
  after(() => c?.close());

  const preflight = (worker, origin) => worker.fetch("/admin/connectors", {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
  });

  test("no CORS headers by default (the Console is same-origin); preflights are refused", async () => {
    const r = await h.fetch("/admin/connectors", { headers: { origin: CONSOLE, authorization: "Bearer x" } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("access-control-allow-origin"), null);
    const p = await preflight(h, CONSOLE);
    assert.equal(p.status, 403);
    assert.equal((await p.json()).code, "cors_refused");
    assert.equal(p.headers.get("access-control-allow-origin"), null);
  });

  test("CONSOLE_ORIGIN: that origin gets CORS headers (errors too), any other none", async () => {
    const p = await preflight(c, CONSOLE);
    assert.equal(p.status, 204);
    assert.equal(p.headers.get("access-control-allow-origin"), CONSOLE);
    assert.match(p.headers.get("access-control-allow-methods"), /PUT/);
    assert.equal(p.headers.get("access-control-allow-headers"), "authorization, content-type");
    assert.equal(p.headers.get("vary"), "Origin");
    const ok = await c.fetch("/admin/connectors", { headers: { origin: CONSOLE, authorization: `Bearer ${(await import("./harness.mjs")).ADMIN_TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), CONSOLE);
    assert.equal(ok.headers.get("vary"), "Origin");
    const refused = await c.fetch("/admin/connectors", { headers: { origin: CONSOLE } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("access-control-allow-origin"), CONSOLE, "the Console can read the 401");

    const evil = await preflight(c, "https://evil.example.com");
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get("access-control-allow-origin"), null);
    const evilGet = await c.fetch("/admin/connectors", { headers: { origin: "https://evil.example.com" } });
    assert.equal(evilGet.headers.get("access-control-allow-origin"), null);
  });

  test("ingest and health never get CORS headers", async () => {
    for (const [method, p] of [["POST", "/v1/currents/x"], ["GET", "/health"], ["OPTIONS", "/v1/currents/x"]]) {
      const r = await c.fetch(p, { method, headers: { origin: CONSOLE }, body: method === "POST" ? "{}" : undefined });
      assert.equal(r.headers.get("access-control-allow-origin"), null, `${method} ${p}`);
      await r.arrayBuffer();
    }
  });
});

test("the Worker serves the Playground at / and the Console, and the wasm as application/wasm", async () => {
  const root = await h.fetch("/");
  assert.equal(root.status, 200);
  assert.match(root.headers.get("content-type"), /text\/html/);
  assert.match(await root.text(), /<title>Playground · currents-relay<\/title>/);
  const consolePage = await h.fetch("/console.html");
  assert.equal(consolePage.status, 200);
  assert.match(await consolePage.text(), /<title>Console · currents-relay<\/title>/);
  const wasm = await h.fetch("/pkg/web/currents_relay_bg.wasm");
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get("content-type"), "application/wasm");
  const bytes = new Uint8Array(await wasm.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 4)], [0, 0x61, 0x73, 0x6d], "a wasm module");
  const health = await h.fetch("/health");
  assert.equal((await health.json()).status, "ok", "API paths still reach the Worker");
  const missing = await h.fetch("/no-such-page");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, "not_found", "no asset: the Worker answers");
});
