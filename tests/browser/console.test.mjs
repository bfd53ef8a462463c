// The Console (www/console.html) in a real headless Chromium, against the real built Worker
// (build/index.js under Miniflare, tests/e2e/harness.mjs) and its local Segment sink. The static
// server serves build/www and forwards /admin/ and /v1/ to the Worker (Miniflare's dispatchFetch),
// so the page and the API share one origin, as in production where the Worker serves the page.
//
// Every case runs against the Worker's real admin routes (connector CRUD, rotate-token, pause,
// resume, stats, quarantine); the Worker itself also serves build/www as static assets
// (tests/e2e/admin.test.mjs checks that), the proxy here only records what the page asked.
//
// Every test gets its own browser context and a freshly loaded, signed-out Console
// (tests/browser/browser.mjs), and the connectors it changes are its own: no test starts from what
// another left. Each fails on its own unexpected console errors or on a request that left the
// test server.
//
// Screenshots: .tmp/screenshots/console-*.png; `UPDATE_SCREENSHOTS=1` also copies them into
// docs/screenshots/.

import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import {
  ADMIN_TOKEN, brazeEvent, connectorConfig, loadSamples, newToken, newWriteKey, waitFor,
} from "../e2e/harness.mjs";
import {
  ROOT, SCREENSHOTS, WWW, closeCleanly, openTab, requirePrerequisites, screenshot, startSite,
} from "./browser.mjs";

const WRITE_KEY = newWriteKey("main");
const WRITE_KEY_EU = newWriteKey("eu");

let h, server, browser, adminToken;
let tab, page; // this test's browser context and page
let proxiedFrom = 0; // server.proxied before this test
/** The API requests (through the page's origin) of this test so far. */
const proxied = () => server.proxied.slice(proxiedFrom);
/** Console errors the Worker's expected answers cause: 401 (sign-in refused), 404 (a deleted
 * connector), 422 (an invalid config), which Chromium logs as failed loads. */
const EXPECTED_ERRORS = /401|404|422|Unauthorized|Not Found|Unprocessable/i;

const shot = (name, opts = {}) => screenshot(page, name, { prefix: "console", ...opts });

/** POSTs a Currents body to the Worker through the page's origin (the proxy). */
async function sendBatch(id, token, events) {
  const res = await fetch(new URL(`v1/currents/${id}`, server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "braze-currents-version": "1" },
    body: JSON.stringify({ events }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : null };
}

/** Waits until `selector` is visible; an error banner appearing first fails with its text. */
async function visible(selector, timeout = 10_000) {
  const handle = await page.waitForFunction((sel) => {
    const shown = (el) => el && !el.hidden && el.offsetParent !== null;
    for (const id of ["#app-error", "#form-errors", "#signin-error", "#q-replay-error"]) {
      if (id === sel) continue;
      const b = document.querySelector(id);
      if (shown(b) && b.textContent.trim()) return `ERROR ${id}: ${b.textContent.trim()}`;
    }
    return shown(document.querySelector(sel)) ? "ok" : null;
  }, selector, { timeout });
  const v = await handle.jsonValue();
  if (v !== "ok") throw new Error(`waiting for ${selector}: ${v}`);
}

async function signIn(token = adminToken) {
  await page.fill("#admin-token", token);
  await page.click("#signin-form button[type=submit]");
}

/**
 * Signs in with the admin token and waits for the app and for the connector list that sign-in
 * loads: a load still in flight would replace the rows under a later click (the press on one row,
 * the release on its replacement, and no click at all).
 */
async function signInToApp(token = adminToken) {
  const lists = Number(await page.evaluate(() => document.body.dataset.listLoads ?? 0));
  await signIn(token);
  await page.waitForSelector("body[data-view=app]");
  await page.waitForFunction((n) => Number(document.body.dataset.listLoads ?? 0) > n, lists);
}

/** Signs in when the page shows sign-in (so each test can also run alone). */
async function ensureSignedIn() {
  if ((await page.getAttribute("body", "data-view")) === "app") return;
  await signInToApp();
}

/** Opens a connector: from the list when the Worker lists connectors, else by id. */
async function openConnector(id) {
  await ensureSignedIn();
  // The counters of the connector shown before stay up until this one's stats arrive: wait for a
  // stats load that started after the click.
  const loads = Number(await page.evaluate(() => document.body.dataset.statsLoads ?? 0));
  const lists = Number(await page.evaluate(() => document.body.dataset.listLoads ?? 0));
  await page.click("#refresh-connectors");
  // Look at the list this click loads, not the one it replaces.
  await page.waitForFunction((n) => Number(document.body.dataset.listLoads ?? 0) > n, lists, { timeout: 30_000 });
  const inList = page.locator(`#connectors [data-open="${id}"]`);
  if (await inList.count()) await inList.click();
  else {
    await page.fill("#open-id", id);
    await page.click("#open-form button[type=submit]");
  }
  await page.waitForFunction((i) => document.querySelector("#detail-id")?.textContent === i
    && !document.querySelector("#detail").hidden, id, { timeout: 30_000 });
  await page.waitForFunction((n) => Number(document.body.dataset.statsLoads ?? 0) > n, loads, { timeout: 30_000 });
  await visible("#stats .counters");
  // The Console moves the focus to the connector's title once every panel has loaded: wait for
  // that, or it lands after (and undoes) the test's own focus.
  await page.waitForFunction((i) => document.querySelector("#notice")?.textContent === `Connector ${i} loaded.`,
    id, { timeout: 30_000 });
}

/** Waits (≤ 5 s) for the keyboard focus to land on `#id`; fails with `what` and where it is. */
async function focused(id, what = `focus on #${id}`) {
  try {
    await page.waitForFunction((want) => document.activeElement?.id === want, id, { timeout: 5_000 });
  } catch {
    assert.fail(`${what}: focus is on #${await page.evaluate(() => document.activeElement?.id)}`);
  }
}
const statText = (key) => page.textContent(`[data-stat="${key}"]`);
const statNum = async (key) => Number((await statText(key)).replace(/\D/g, ""));

/**
 * Clicks Refresh until the console's counter `key` equals `want` (the Worker's numbers move on
 * their own). Each round waits for that refresh to finish: the Console says "Connector <id>
 * refreshed." once the list, the stats and the quarantine have all been reloaded (the notice is
 * emptied first, so the words seen are this refresh's).
 */
async function refreshUntil(key, want) {
  await waitFor(async () => {
    await page.evaluate(() => { document.querySelector("#notice").textContent = ""; });
    await page.click("#refresh-detail");
    await page.waitForFunction(() => /^Connector .+ refreshed\.$/.test(document.querySelector("#notice").textContent));
    return (await statNum(key)) === want;
  }, { timeoutMs: 20_000, intervalMs: 300, message: `console ${key} = ${want}` });
}

/** Stores a connector of this test's own (its config in KV, as an operator's script would); returns its token. */
async function seedConnector(id, extra = {}) {
  const token = newToken();
  await h.putConnector(id, connectorConfig(token, WRITE_KEY, extra));
  return token;
}

before(async () => {
  const chromium = await requirePrerequisites();
  ({ h, server, browser } = await startSite(chromium, { writeKeys: { main: WRITE_KEY, eu: WRITE_KEY_EU } }));
  adminToken = h.adminToken ?? ADMIN_TOKEN;
});

beforeEach(async () => {
  tab = await openTab(browser, server);
  page = tab.page;
  proxiedFrom = server.proxied.length;
  await page.goto(new URL("console.html", server.url).href);
  await page.waitForSelector("body[data-ready=true]");
});

afterEach(() => closeCleanly(tab, { expectedErrors: EXPECTED_ERRORS }));

after(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    const docs = path.join(ROOT, "docs/screenshots");
    mkdirSync(docs, { recursive: true });
    for (const f of readdirSync(SCREENSHOTS).filter((f) => /^console-.*\.png$/.test(f))) {
      copyFileSync(path.join(SCREENSHOTS, f), path.join(docs, f));
    }
  }
});

test("sign in: a wrong token is refused at the field; the right one opens the console; kept in sessionStorage only", async () => {
  await visible("#signin");
  await focused("admin-token", "focus starts in the token field");
  await shot("signin");
  await signIn("not-the-admin-token");
  await visible("#signin-error");
  assert.match(await page.textContent("#signin-error"), /401 unauthorized/);
  assert.equal(await page.getAttribute("#admin-token", "aria-invalid"), "true");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not stored");
  await shot("signin-refused");

  await signInToApp();
  await visible("#connectors-panel");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("currents-relay.admin-token")), adminToken);
  assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
  assert.deepEqual(await tab.context.cookies(), [], "no cookies");
  assert.equal(await page.inputValue("#admin-token"), "", "the token field is emptied");
  assert.ok(proxied().some((r) => r === "GET /admin/connectors"), "the page asked the Worker, same origin");
});

test("create a connector from the form: the token is shown once with a copy button and a warning; it works for Braze", async () => {
  const id = "acme-web";
  await ensureSignedIn();
  await page.click("#new-connector");
  await visible("#editor");
  await focused("f-id");
  await page.fill("#f-id", id);
  await page.fill("#f-description", "Web app, US and EU workspaces");
  const first = page.locator("#f-destinations .destination").first();
  await first.getByLabel("Name").fill("main");
  await first.getByLabel("Region").selectOption("us");
  await first.getByLabel("Write key").fill(WRITE_KEY);
  await page.click("#f-add-destination");
  const second = page.locator("#f-destinations .destination").nth(1);
  await second.getByLabel("Name").fill("eu");
  await second.getByLabel("Region").selectOption("eu");
  await second.getByLabel("Write key").fill(WRITE_KEY_EU);
  await page.selectOption("#f-default", "main");
  await page.selectOption("#f-routing-by", "app_id");
  await page.click("#f-add-route");
  await page.locator("#f-routes .route").first().getByLabel("Value").fill("app-eu");
  await page.locator("#f-routes .route").first().getByLabel("Goes to destination").selectOption("eu");
  await page.check("#f-profile-segment");
  await page.check("#f-anonymous");
  await page.fill("#f-retention", "72");
  await shot("create", { fullPage: true });
  await page.click("#f-submit");

  await visible("#token-panel");
  const token = await page.inputValue("#new-token");
  assert.ok(token.length >= 20, `a bearer token is shown: ${token}`);
  assert.match(await page.textContent("#token-panel .warning"), /shown only once/);
  assert.ok(await page.locator("#copy-token").isVisible());
  assert.equal(await page.inputValue("#endpoint-url"), new URL(`v1/currents/${id}`, server.url).href);
  await focused("token-title", "focus moves to the token");
  await shot("token");

  const stored = await h.admin("GET", `/admin/connectors/${id}`);
  assert.equal(stored.status, 200, stored.text);
  const c = stored.json.config;
  assert.equal(c.description, "Web app, US and EU workspaces");
  assert.deepEqual(Object.keys(c.destinations).sort(), ["eu", "main"]);
  assert.equal(c.destinations.eu.region, "eu");
  assert.equal(c.destinations.main.write_key, `****${WRITE_KEY.slice(-4)}`);
  assert.equal(c.default_destination, "main");
  assert.deepEqual(c.routing, { by: "app_id", routes: { "app-eu": "eu" } });
  assert.equal(c.naming.profile, "segment_catalog");
  assert.equal(c.identity.include_anonymous, true);
  assert.equal(c.retention_hours, 72);

  const samples = loadSamples();
  const sent = await sendBatch(id, token, samples);
  assert.equal(sent.status, 200, sent.text);
  await waitFor(async () => (await h.stats(id)).delivered === sent.json.accepted, { message: "delivered" });
  await refreshUntil("received", samples.length);
  assert.equal(await statNum("delivered"), sent.json.accepted);
  const row = page.locator(`#connectors tr[data-connector="${id}"]`);
  assert.equal(Number(await row.locator('[data-health="delivered"]').textContent()), sent.json.accepted);

  await page.click("#token-done");
  assert.ok(await page.locator("#token-panel").isHidden());
  assert.equal(await page.inputValue("#new-token"), "", "the token is gone from the page");
});

test("stats: a batch sent with the connector's token shows in the counters and the hourly chart", async () => {
  const STATS_ID = "acme-stats";
  const STATS_TOKEN = await seedConnector(STATS_ID, { description: "Seeded in KV by the test" });
  await openConnector(STATS_ID);
  assert.equal(await statNum("received"), 0);
  assert.equal(await page.locator("#stats svg.chart rect").count(), 0, "no bars before any event");
  await shot("stats-empty", { fullPage: true });

  const samples = loadSamples();
  const sent = await sendBatch(STATS_ID, STATS_TOKEN, samples);
  assert.equal(sent.status, 200, sent.text);
  await waitFor(async () => (await h.stats(STATS_ID)).delivered === sent.json.accepted, { message: "delivered" });
  await refreshUntil("delivered", sent.json.accepted);
  const s = await h.stats(STATS_ID);
  const sum = (o) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);
  assert.equal(await statNum("received"), s.received);
  assert.equal(await statNum("accepted"), s.accepted);
  assert.equal(await statNum("filtered"), sum(s.filtered));
  assert.equal(await statNum("quarantined"), sum(s.quarantined));
  assert.equal(await statNum("retried"), s.retried ?? 0);
  assert.equal(await statNum("split"), s.split ?? 0);
  assert.notEqual(await statText("last_success"), "never");

  const bars = await page.$$eval("#stats svg.chart rect", (rs) => rs.map((r) => ({
    series: r.dataset.series, hour: r.dataset.hour, value: Number(r.dataset.value),
  })));
  for (const series of ["received", "delivered"]) {
    const want = Object.values(s.series).reduce((a, b) => a + b[series], 0);
    assert.equal(bars.filter((b) => b.series === series).reduce((a, b) => a + b.value, 0), want, series);
  }
  assert.ok(bars.every((b) => s.series[b.hour]), "every bar is an hour of the Worker's series");
  assert.match(await page.getAttribute("#stats svg.chart", "aria-label"), new RegExp(`received ${s.received}`));
  await page.click("#stats .chart-table summary");
  assert.equal(await page.locator("#stats .chart-table tbody tr").count(), Object.keys(s.series).length);
  await page.locator("#stats-panel").scrollIntoViewIfNeeded();
  await shot("stats", { fullPage: true });
});

test("rotate the token: shown once; the old token gets 401, the new one 200", async () => {
  const id = "acme-rotate";
  const oldToken = await seedConnector(id);
  await openConnector(id);
  page.once("dialog", (d) => d.accept());
  await page.click("#rotate");
  await visible("#token-panel");
  const token = await page.inputValue("#new-token");
  assert.ok(token && token !== oldToken);
  await shot("rotate");
  const events = [brazeEvent("rot-1")];
  assert.equal((await sendBatch(id, oldToken, events)).status, 401, "the old token is refused");
  assert.equal((await sendBatch(id, token, events)).status, 200, "the new token works");
  await page.click("#token-done");
});

test("edit: write keys redacted and kept; the Worker's 422 errors appear at their fields", async () => {
  const id = "acme-edit";
  await seedConnector(id, { description: "Seeded in KV by the test" });
  await openConnector(id);
  await page.click("#edit");
  await visible("#editor");
  const key = page.locator("#f-destinations .destination").first().getByLabel(/write key/i);
  assert.equal(await key.inputValue(), "", "the stored write key is never put in the form");
  assert.match(await key.getAttribute("placeholder"), new RegExp(`\\*\\*\\*\\*${WRITE_KEY.slice(-4)}`));
  await page.fill("#f-retention", "0");
  await key.fill("bad:key");
  await page.click("#f-submit");
  await page.waitForSelector("#form-errors:not([hidden])");
  assert.equal(await page.getAttribute("#f-retention", "aria-invalid"), "true");
  assert.match(await page.textContent("#f-retention-error"), /between 1 and 8760/);
  assert.equal(await key.getAttribute("aria-invalid"), "true");
  assert.match(await page.textContent(`#${await key.getAttribute("id")}-error`), /':'/);
  assert.deepEqual(await page.$$eval("#form-errors li", (li) => li.map((l) => l.dataset.field).sort()),
    ["destinations.main.write_key", "retention_hours"]);
  await focused("form-errors", "focus moves to the error summary");
  await page.locator("#f-retention").scrollIntoViewIfNeeded();
  await shot("edit-errors", { fullPage: true });
  assert.equal((await h.admin("GET", `/admin/connectors/${id}`)).json.config.retention_hours, 168, "nothing saved");

  await page.fill("#f-retention", "48");
  await key.fill("");
  await page.click("#f-submit");
  await page.waitForSelector("#editor", { state: "hidden" });
  const c = (await h.admin("GET", `/admin/connectors/${id}`)).json.config;
  assert.equal(c.retention_hours, 48);
  assert.equal(c.description, "Seeded in KV by the test", "fields the form did not change are kept");
  assert.equal(c.destinations.main.write_key, `****${WRITE_KEY.slice(-4)}`, "the write key is unchanged");
  assert.match(await page.textContent("#detail-config"), /48 hours/);
});

test("the list tells a misconfigured connector from an active or paused one", async () => {
  await seedConnector("acme-listed-paused", { paused: true });
  await h.putConnector("acme-broken", '{"token_sha256": "not a hash", "destinations": {}}');
  await ensureSignedIn();
  await page.click("#refresh-connectors");
  const state = (id) => page.locator(`#connectors tr[data-connector="${id}"] .badge`);
  await state("acme-broken").waitFor();
  assert.equal(await state("acme-broken").textContent(), "Misconfigured");
  assert.match(await state("acme-broken").getAttribute("title"), /does not parse or validate/);
  assert.equal(await state("acme-listed-paused").textContent(), "Paused");
  await h.kv.delete("connector:acme-broken");
});

test("edit: a destination and a route named __proto__ are saved like any other name", async () => {
  const id = "acme-proto";
  await seedConnector(id);
  await openConnector(id);
  await page.click("#edit");
  await visible("#editor");
  await page.click("#f-add-destination");
  const added = page.locator("#f-destinations .destination").nth(1);
  await added.getByLabel("Name").fill("__proto__");
  await added.getByLabel("Region").selectOption("eu");
  await added.getByLabel("Write key").fill(WRITE_KEY_EU);
  await page.selectOption("#f-default", "main");
  await page.selectOption("#f-routing-by", "app_id");
  await page.click("#f-add-route");
  const route = page.locator("#f-routes .route").first();
  await route.getByLabel("Value").fill("__proto__");
  await route.getByLabel("Goes to destination").selectOption("__proto__");
  await page.click("#f-submit");
  await page.waitForSelector("#editor", { state: "hidden" });

  const stored = await h.admin("GET", `/admin/connectors/${id}`);
  assert.equal(stored.status, 200, stored.text);
  const c = stored.json.config; // JSON.parse keeps "__proto__" as an own key
  assert.deepEqual(Object.keys(c.destinations).sort(), ["__proto__", "main"], stored.text);
  assert.ok(Object.hasOwn(c.destinations, "__proto__"));
  assert.equal(c.destinations.__proto__.region, "eu");
  assert.equal(c.destinations.__proto__.write_key, `****${WRITE_KEY_EU.slice(-4)}`);
  assert.equal(c.routing.by, "app_id");
  assert.deepEqual(Object.keys(c.routing.routes), ["__proto__"], stored.text);
  assert.equal(Object.getOwnPropertyDescriptor(c.routing.routes, "__proto__").value, "__proto__");
});

test("pause and resume", async () => {
  const id = "acme-pause";
  await seedConnector(id);
  await openConnector(id);
  await page.click("#pause");
  await page.waitForSelector("#resume:not([hidden])");
  assert.equal(await page.textContent("#detail-state"), "Paused");
  assert.equal((await h.admin("GET", `/admin/connectors/${id}`)).json.config.paused, true);
  await focused("resume", "focus moves to the button that undoes the pause");
  await shot("paused");
  await page.click("#resume");
  await page.waitForSelector("#pause:not([hidden])");
  assert.equal(await page.textContent("#detail-state"), "Active");
  assert.equal((await h.admin("GET", `/admin/connectors/${id}`)).json.config.paused, false);
});

test("quarantine: Inspect shows an event nested 5,000 levels deep, as stored", async () => {
  // An event with no id is quarantined at ingest (missing_id) with its raw text; its property is
  // nested 5,000 deep, which JSON.stringify of the parsed document cannot print.
  const D_ID = "acme-deep";
  const D_TOKEN = await seedConnector(D_ID);
  const nested = (depth) => "[".repeat(depth) + "]".repeat(depth);
  const event = '{"event_type":"users.messages.email.Open","time":1767225600,"user":{"external_user_id":"u-1"},'
    + `"properties":{"big":9007199254740993,"deep":${nested(5_000)}}}`;
  const res = await fetch(new URL(`v1/currents/${D_ID}`, server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${D_TOKEN}`, "content-type": "application/json", "braze-currents-version": "1" },
    body: `{"events":[${event}]}`,
  });
  const answer = await res.text();
  assert.equal(res.status, 200, answer);
  assert.equal(JSON.parse(answer).quarantined, 1, answer);

  await openConnector(D_ID);
  await page.waitForSelector("#q-list tbody tr");
  const key = await page.getAttribute("#q-list tbody tr", "data-key");
  await page.click("#q-list [data-inspect]");
  await visible("#q-inspect");
  const shown = await page.textContent("#q-inspect-json");
  const stored = (await h.admin("GET", `/admin/quarantine/object?key=${encodeURIComponent(key)}`)).text;
  const tokens = (text) => text.match(/"(?:[^"\\]|\\.)*"|[{}[\],:]|[^\s{}[\],:"]+/g);
  assert.deepEqual(tokens(shown), tokens(stored), "the object as the Worker stores it, token for token");
  assert.match(shown, /\n {2}"connector": "acme-deep"/, "indented");
  assert.match(shown, /"big": 9007199254740993,/, "numbers as stored");
  assert.ok(shown.includes(nested(4_900)), "the deep levels as raw text");
  assert.match(await page.textContent("#q-inspect-note"), /deeper than 100 levels/);
  assert.ok(await page.locator("#app-error").isHidden());
});

test("quarantine: list by reason, inspect one, replay one, replay all with a progress bar and totals", async () => {
  // One batch with a malformed event (no id) → a missing_id object at ingest; one batch Segment
  // refuses as a whole (404) → a segment_rejected object that replay delivers.
  const Q_ID = "acme-quarantine";
  const Q_TOKEN = await seedConnector(Q_ID);
  const bad = { event_type: "users.messages.email.Open", time: 1_767_225_600, user: { external_user_id: "u-1" } };
  const r1 = await sendBatch(Q_ID, Q_TOKEN, [brazeEvent("q-ok-1"), bad]);
  assert.equal(r1.json.quarantined, 1, r1.text);
  // The good event must be delivered before Segment starts refusing, or the 404 would hit it.
  await waitFor(async () => (await h.stats(Q_ID)).delivered === 1, { message: "q-ok-1 delivered" });
  h.sink.setFaults({ next: [404] });
  const r2 = await sendBatch(Q_ID, Q_TOKEN, [brazeEvent("q-rej-1"), brazeEvent("q-rej-2")]);
  assert.equal(r2.status, 200, r2.text);
  await waitFor(async () => (await h.admin("GET", `/admin/quarantine?connector=${Q_ID}&reason=segment_rejected`)).json.objects.length === 1,
    { timeoutMs: 20_000, message: "segment_rejected object" });
  h.sink.setFaults(null);

  await openConnector(Q_ID);
  await page.waitForSelector("#q-list tbody tr");
  assert.equal(await page.locator("#q-list tbody tr").count(), 2);
  assert.deepEqual(await page.$$eval("#q-reason option", (o) => o.map((x) => x.value)), ["", "missing_id", "segment_rejected"]);
  await page.selectOption("#q-reason", "missing_id");
  await page.waitForFunction(() => document.querySelectorAll("#q-list tbody tr").length === 1);
  assert.match(await page.textContent("#q-list tbody tr"), /missing_id × 1/);
  assert.ok(proxied().some((r) => r.includes("reason=missing_id")), "the filter is the Worker's");

  const key = await page.getAttribute("#q-list tbody tr", "data-key");
  await page.click("#q-list [data-inspect]");
  await visible("#q-inspect");
  const shown = JSON.parse(await page.textContent("#q-inspect-json"));
  assert.deepEqual(shown, (await h.admin("GET", `/admin/quarantine/object?key=${encodeURIComponent(key)}`)).json);
  assert.equal(shown.events[0].reason, "missing_id");
  assert.match(await page.textContent("#q-inspect-json"), /\n {2}"connector"/, "pretty JSON");
  await shot("quarantine-inspect", { fullPage: true });

  await page.click(`#q-list tr[data-key="${key}"] [data-replay]`);
  await page.waitForSelector("#q-replay[data-state=done]");
  assert.equal(await page.getAttribute("#q-progress", "value"), await page.getAttribute("#q-progress", "max"));
  assert.equal(await page.textContent('[data-total="still_quarantined"]'), "1", "a missing id cannot be fixed by a replay");
  assert.equal(await page.textContent('[data-total="requeued"]'), "0");

  await page.selectOption("#q-reason", "");
  // A replay moves, never copies: the missing_id object stays (marked replayed), no new one.
  await page.waitForFunction(() => document.querySelectorAll("#q-list tbody tr").length === 2);
  const pending = await page.$$eval('#q-list tr[data-replayed="false"]', (rows) => rows.length);
  assert.equal(pending, 1, "only the rejected batch is still to replay");
  page.once("dialog", (d) => d.accept());
  await page.click("#q-replay-all");
  await page.waitForSelector("#q-replay[data-state=done]");
  assert.equal(await page.textContent("#q-progress-text"), "1 of 1 objects replayed");
  assert.equal(await page.$eval("#q-progress", (p) => p.value / p.max), 1, "the bar reaches 100 %");
  assert.equal(await page.textContent('[data-total="requeued"]'), "2");
  assert.equal(await page.textContent('[data-total="still_quarantined"]'), "0");
  assert.match(await page.textContent("#notice"), /2 events requeued, 0 still quarantined/);
  await waitFor(async () => (await h.stats(Q_ID)).delivered === 3, { message: "the replayed events delivered" });
  await page.locator("#quarantine-panel").scrollIntoViewIfNeeded();
  await shot("quarantine-replayed", { fullPage: true });
});

test("delete a connector (confirmed): it leaves the list and Braze's requests get 404", async () => {
  const id = "acme-delete";
  const token = await seedConnector(id);
  assert.equal((await sendBatch(id, token, [brazeEvent("before-delete")])).status, 200);
  await openConnector(id);
  let question = "";
  page.once("dialog", (d) => {
    question = d.message();
    d.accept();
  });
  await page.click("#delete");
  await page.waitForSelector("#detail", { state: "hidden" });
  // The dialog says what happens to a connector created again under the same id.
  assert.match(question, /created again under the id acme-delete is a new connector/);
  assert.match(question, /connector_replaced/);
  // The list refreshes after the delete answer: wait for it rather than race it.
  await waitFor(async () => (await page.locator(`#connectors [data-open="${id}"]`).count()) === 0, {
    message: "the deleted connector leaves the list",
  });
  assert.equal((await sendBatch(id, token, [brazeEvent("gone")])).status, 404);
  await shot("deleted");
});

test("a 401 from the Worker (token changed or wrong) returns to sign-in with a message", async () => {
  await ensureSignedIn();
  await page.evaluate(() => sessionStorage.setItem("currents-relay.admin-token", "stale-token"));
  await page.click("#refresh-connectors");
  await visible("#signin-error");
  assert.match(await page.textContent("#signin-error"), /refused the admin token/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await signInToApp();
});

test("accessibility: every control is labelled, the connector view works from the keyboard", async () => {
  const id = "acme-a11y";
  await seedConnector(id);
  await openConnector(id);
  const unlabelled = await page.$$eval("input, select, textarea, button", (els) => els
    .filter((e) => e.offsetParent !== null || e.closest("form"))
    .filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || (e.tagName === "BUTTON" && e.textContent.trim())))
    .map((e) => e.id || e.outerHTML.slice(0, 80)));
  assert.deepEqual(unlabelled, []);
  for (const live of ["#notice", "#q-totals"]) assert.ok(await page.getAttribute(live, "aria-live"), live);

  // Keyboard only: focus the stats range, change it, and the chart follows.
  await page.focus("#stats-range");
  const before = Number(await page.evaluate(() => document.body.dataset.statsLoads));
  await page.keyboard.press("ArrowDown");
  await page.waitForFunction((n) => Number(document.body.dataset.statsLoads) > n, before);
  assert.match(await page.textContent("#stats figcaption"), /last 72 hours/);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "focus is visible");
  await page.selectOption("#stats-range", "24");
});

test("sign out forgets the token (sessionStorage cleared) and shows sign-in", async () => {
  await ensureSignedIn();
  await page.click("#signout");
  await visible("#signin");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.ok(await page.locator("#app").isHidden());
  assert.match(await page.textContent("#notice"), /Signed out/);
  await page.reload();
  await page.waitForSelector("body[data-view=signin]");
});

test("a visit (sign in, open a connector, sign out) asks only its own origin: files of build/www and the API under /admin/", async () => {
  const id = "acme-visit";
  await seedConnector(id);
  await openConnector(id);
  await page.click("#signout");
  await visible("#signin");
  assert.deepEqual(tab.errors, [], "no console error at all");
  assert.ok(tab.requests.length > 0);
  for (const url of tab.requests) {
    assert.ok(url.startsWith(server.url), `a request left the origin: ${url}`);
    const { pathname } = new URL(url);
    assert.ok(existsSync(path.join(WWW, pathname)) || pathname.startsWith("/admin/"), `neither a file of build/www nor the API: ${url}`);
  }
  assert.ok(proxied().length > 0 && proxied().every((r) => / \/admin\//.test(r)), proxied().join("\n"));
});
