// "New from Braze" in a real headless Chromium: the Console's panel against the real built Worker
// (build/index.js under Miniflare, tests/e2e/harness.mjs; the static server serves build/www and
// forwards /admin/ and /v1/ to the Worker, as console.test.mjs does), its links into the
// Playground, and the Playground's marks, checked against pkg/node's translateBatch.
//
// Screenshot: .tmp/screenshots/console-drift.png (the panel); `UPDATE_SCREENSHOTS=1` also copies
// it into docs/screenshots/.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { ADMIN_TOKEN, connectorConfig, newToken, newWriteKey, waitFor } from "../e2e/harness.mjs";
import {
  ROOT, SCREENSHOTS, closeCleanly, openConnectorById, openTab, requirePrerequisites, screenshot, signInToConsole,
  startSite,
} from "./browser.mjs";

const require = createRequire(import.meta.url);
const WRITE_KEY = newWriteKey("drift");
const NEW_TYPE = "users.messages.hologram.Send";
const OPEN = "users.messages.email.Open";
/** Values that look personal: never on the page. */
const SECRETS = ["jane.doe@example.com", "+1 555 0100 2233"];

let h, server, browser, relay;
let tab, page;

const user = (id) => ({ user_id: `braze-${id}`, external_user_id: `user-${id}` });
const hologram = (id) => ({
  id, event_type: NEW_TYPE, time: 1_767_225_600, user: user(id),
  properties: { viewer_email: SECRETS[0], hologram_id: 7, seen: true, tags: ["vip"], meta: { k: "v" } },
});
const open = (id, extra) => ({
  id, event_type: OPEN, time: 1_767_225_600, user: user(id),
  properties: { campaign_id: "c-1", dispatch_id: "d-1", email_address: SECRETS[0], ...extra },
});
/** A new type twice, a known type with an undocumented property, a known type with documented ones only. */
const BATCH = [hologram("h1"), hologram("h2"), open("o1", { ai_open_score: 0.93, viewer_phone: null }), open("o2", {})];

/** Pastes `text` into the Playground's batch field and waits for the page to render it. */
async function pasteBatch(text) {
  const before = Number(await page.evaluate(() => document.body.dataset.renders ?? 0));
  await page.$eval("#batch", (el, value) => {
    el.value = value;
    el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertFromPaste" }));
  }, text);
  await page.waitForFunction((n) => Number(document.body.dataset.renders ?? 0) > n, before);
}

async function sendBatch(id, token, events) {
  const res = await fetch(new URL(`v1/currents/${id}`, server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "braze-currents-version": "1" },
    body: JSON.stringify({ events }),
  });
  assert.equal(res.status, 200, await res.text());
}

const signedInConsole = () => signInToConsole(page, server.url, ADMIN_TOKEN);
/** Opens connector `id` by its id and waits for its drift panel to load. */
const openConnector = (id) => openConnectorById(page, id, "driftLoads");

before(async () => {
  const chromium = await requirePrerequisites();
  try {
    relay = require(path.join(ROOT, "pkg/node/currents_relay.js"));
  } catch (e) {
    throw new Error(`pkg/node is missing: run \`bash scripts/build-pkg.sh\` (${e.message})`);
  }
  ({ h, server, browser } = await startSite(chromium, { writeKeys: { main: WRITE_KEY } }));
});

beforeEach(async () => {
  tab = await openTab(browser, server);
  page = tab.page;
});

afterEach(() => closeCleanly(tab));

after(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
});

test("Console: the panel lists the new type and the undocumented property, links to the Playground, resets", async () => {
  const id = "acme-drift";
  const token = newToken();
  await h.putConnector(id, connectorConfig(token, WRITE_KEY));
  await sendBatch(id, token, BATCH);
  await waitFor(async () => (await h.admin("GET", `/admin/connectors/${id}/drift`)).json?.fields?.length === 1);
  // A day later (the Worker's test clock), more of the same and one more property.
  await h.setClockOffset(26 * 3_600_000);
  try {
    await sendBatch(id, token, [hologram("h3"), open("o3", { ai_open_score: 1, send_hour: 14 })]);
  } finally {
    await h.setClockOffset(0);
  }
  const report = await waitFor(async () => {
    const r = await h.admin("GET", `/admin/connectors/${id}/drift`);
    return r.json?.fields?.length === 2 && r.json;
  }, { message: "the Worker's drift report after the second batch" });

  await signedInConsole();
  await openConnector(id);
  const types = await page.$$eval('#drift tr[data-drift-entry="type"]', (rows) => rows.map((r) => ({
    type: r.dataset.eventType, count: Number(r.dataset.count), text: r.textContent,
    seen: [...r.querySelectorAll("[data-seen]")].map((c) => [c.dataset.seen, Number(c.dataset.ms), c.textContent]),
  })));
  assert.deepEqual(types.map((t) => [t.type, t.count]), [[NEW_TYPE, 3]]);
  assert.match(types[0].text, /viewer_email \(string\), hologram_id \(number\), seen \(boolean\), tags \(array\), meta \(object\)/);
  const [t] = report.types;
  assert.deepEqual(types[0].seen.map(([k, ms]) => [k, ms]), [["first", t.first_seen_ms], ["last", t.last_seen_ms]]);
  assert.ok(types[0].seen.every(([, , text]) => text && text !== "never"), JSON.stringify(types[0].seen));
  assert.ok(t.last_seen_ms - t.first_seen_ms > 25 * 3_600_000, JSON.stringify(t));
  assert.notEqual(types[0].seen[0][2], types[0].seen[1][2], "first and last seen dates differ");
  const fields = await page.$$eval('#drift tr[data-drift-entry="field"]', (rows) => rows.map((r) => ({
    type: r.dataset.eventType, field: r.dataset.field, count: Number(r.dataset.count),
    kind: r.querySelector("[data-kind]").dataset.kind,
  })));
  assert.deepEqual(fields, [
    { type: OPEN, field: "ai_open_score", count: 2, kind: "number" },
    { type: OPEN, field: "send_hour", count: 1, kind: "number" },
  ]);
  assert.equal(await page.textContent("#drift-count"), "(3 entries)");
  const panel = await page.textContent("#drift-panel");
  for (const secret of SECRETS) assert.ok(!panel.includes(secret), secret);
  await page.locator("#drift-panel").scrollIntoViewIfNeeded();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const shot = path.join(SCREENSHOTS, "console-drift.png");
  await page.locator("#drift-panel").screenshot({ path: shot });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(path.join(ROOT, "docs/screenshots"), { recursive: true });
    copyFileSync(shot, path.join(ROOT, "docs/screenshots/console-drift.png"));
  }

  // The field's link opens the Playground with a synthetic event of that shape, marked there.
  const link = page.locator('#drift tr[data-field="ai_open_score"] a[data-example]');
  const [playground] = await Promise.all([tab.context.waitForEvent("page"), link.click()]);
  const playgroundErrors = [];
  playground.on("pageerror", (e) => playgroundErrors.push(e.message));
  await playground.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  await playground.waitForSelector('#events li[data-index="0"]');
  const shown = JSON.parse(await playground.inputValue("#batch"));
  assert.equal(shown.events.length, 1);
  const [event] = shown.events;
  assert.equal(event.event_type, OPEN);
  assert.deepEqual(event.properties, { campaign_id: "string", dispatch_id: "string", email_address: "string", ai_open_score: 0 });
  assert.equal(await playground.inputValue("#sample"), "");
  const item = playground.locator('#events li[data-index="0"]');
  assert.equal(await item.getAttribute("data-outcome"), "forwarded");
  assert.deepEqual(await item.locator("[data-drift-field]").evaluateAll((els) => els.map((e) => e.dataset.driftField)), ["ai_open_score"]);
  assert.equal(await item.getAttribute("data-drift-type"), null, "a known type");
  assert.deepEqual(playgroundErrors, []);
  await playground.close();

  // The type's link: every kind has its placeholder, and the type is marked new.
  const [typePage] = await Promise.all([tab.context.waitForEvent("page"), page.locator('#drift tr[data-drift-entry="type"] a[data-example]').click()]);
  await typePage.waitForSelector('#events li[data-index="0"]', { timeout: 30_000 });
  const typeEvent = JSON.parse(await typePage.inputValue("#batch")).events[0];
  assert.deepEqual(typeEvent.properties, { viewer_email: "string", hologram_id: 0, seen: true, tags: [], meta: {} });
  assert.equal(await typePage.getAttribute('#events li[data-index="0"]', "data-drift-type"), "true");
  await typePage.close();

  // Reset (confirmed): the panel and the Worker's report are empty.
  page.once("dialog", (d) => d.accept());
  const loads = Number(await page.evaluate(() => document.body.dataset.driftLoads));
  await page.click("#drift-reset");
  await page.waitForFunction((n) => Number(document.body.dataset.driftLoads) > n, loads);
  await page.waitForSelector("#drift [data-drift-empty]");
  assert.equal(await page.locator("#drift tr[data-drift-entry]").count(), 0);
  assert.equal(await page.textContent("#drift-count"), "");
  assert.ok(await page.isDisabled("#drift-reset"));
  assert.match(await page.textContent("#notice"), /is reset/);
  const after = await h.admin("GET", `/admin/connectors/${id}/drift`);
  assert.deepEqual([after.json.types, after.json.fields], [[], []]);
});

test("Playground: marks new types and undocumented properties, exactly those pkg/node reports", async () => {
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  const text = JSON.stringify({ events: BATCH }, null, 2);
  await pasteBatch(text);
  await page.waitForSelector("#events li[data-index='3']");

  const marks = await page.$$eval("#events > li", (items) => items.map((li) => ({
    index: Number(li.dataset.index),
    newType: li.dataset.driftType === "true",
    fields: [...li.querySelectorAll("[data-drift-field]")].map((c) => c.dataset.driftField),
  })));
  assert.deepEqual(marks, [
    { index: 0, newType: true, fields: [] },
    { index: 1, newType: true, fields: [] },
    { index: 2, newType: false, fields: ["ai_open_score"] },
    { index: 3, newType: false, fields: [] },
  ]);
  // The same as pkg/node says for this batch.
  const out = relay.translateBatch(text, await page.inputValue("#config"), await page.inputValue("#connector-id"));
  assert.deepEqual(out.drift.types.map((t) => t.event_type), [NEW_TYPE]);
  assert.deepEqual(out.drift.fields.map((f) => [f.event_type, f.field]), [[OPEN, "ai_open_score"]]);
  assert.match(await page.textContent('[data-drift="summary"]'), /1 event type and 1 property the mapping table does not describe/);
  assert.equal(await page.locator('#events li[data-index="2"] [data-drift="fields"]').textContent(), "1 new property");
  await page.click('#events li[data-index="2"] summary');
  await screenshot(page, "drift");
});

test("Playground: an unknown type shows where the general rule put its email, phone and device model", async () => {
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  const event = {
    id: "u1", event_type: NEW_TYPE, time: 1_767_225_600, user: user("u1"),
    properties: { email_address: "a@example.com", user_phone_number: "+15550100", device_model: "Holo 1",
      platform: "web", os_version: "9", hologram_id: 7 },
  };
  await pasteBatch(JSON.stringify({ events: [event] }));
  const item = page.locator('#events li[data-index="0"]');
  await item.locator("summary").click();
  const note = await item.locator('[data-drift="placement"]').textContent();
  for (const part of ["email_address", "context.traits.email", "user_phone_number", "context.traits.phone",
    "device_model", "context.device.model"]) assert.ok(note.includes(part), `${part} in: ${note}`);
  // The payload the page shows is the one the rule produced.
  const out = relay.translateBatch(JSON.stringify({ events: [event] }), await page.inputValue("#config"), "playground");
  const track = JSON.parse(out.batches[0].events[0].json);
  assert.deepEqual(track.context.traits, { email: "a@example.com", phone: "+15550100" });
  assert.deepEqual(track.context.device, { model: "Holo 1" });
  assert.deepEqual(Object.keys(track.properties).sort(), ["hologram_id", "platform"]);
  const shown = await item.textContent();
  assert.ok(shown.includes('"phone": "+15550100"') && shown.includes('"model": "Holo 1"'), "the payload shows the placement");
  // A known type gets no such note.
  assert.equal(await page.locator('[data-drift="placement"]').count(), 1);
});
