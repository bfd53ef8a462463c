// The Playground (www/, assembled into build/www by scripts/build-www.sh) in a real headless Chromium:
// what the page shows for each event must be exactly what pkg/node's translateBatch (the Worker's
// own pipeline) computes for the same batch, config and connector id.
//
// Every test gets its own browser context and a freshly loaded page (tests/browser/browser.mjs):
// none starts from what another left, and each fails on its own console errors or on a request
// that left the test server.
//
// Screenshots go to .tmp/screenshots/; `UPDATE_SCREENSHOTS=1 npm run test:browser` also copies
// them into docs/screenshots/.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { ROOT, SCREENSHOTS, WWW, launch, requirePrerequisites, screenshot } from "./browser.mjs";
import { serveStatic } from "./static-server.mjs";

const require = createRequire(import.meta.url);
const SAMPLES_DIR = path.join(ROOT, "tests/fixtures/braze-samples/users");
const GOLDEN_DIR = path.join(ROOT, "tests/golden");

let relay, server, browser;
let tab, page; // this test's browser context and page

function loadSamples(dir = SAMPLES_DIR) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return loadSamples(full);
    return e.name.endsWith(".json") ? [JSON.parse(readFileSync(full, "utf8"))] : [];
  });
}

function loadGoldens() {
  return readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".braze.json")).sort().map((f) => ({
    braze: JSON.parse(readFileSync(path.join(GOLDEN_DIR, f), "utf8")),
    segment: JSON.parse(readFileSync(path.join(GOLDEN_DIR, f.replace(".braze.json", ".segment.json")), "utf8")),
  }));
}

/** Runs `action` and waits until the page has re-translated (body[data-renders] went up). */
async function afterRender(action) {
  const before = await page.evaluate(() => Number(document.body.dataset.renders ?? 0));
  await action();
  await page.waitForFunction((n) => Number(document.body.dataset.renders ?? 0) > n, before, { timeout: 10_000 });
}

/** Every event item of the page: outcome, names, reason and the Segment payload parsed from its <pre>. */
function shownEvents() {
  return page.$$eval("#events > li", (items) => items.map((li) => {
    const pre = li.querySelector("pre.payload");
    return {
      index: Number(li.dataset.index),
      outcome: li.dataset.outcome,
      event_type: li.dataset.eventType,
      name: li.dataset.eventName ?? null,
      reason: li.dataset.reason ?? null,
      payload: pre ? JSON.parse(pre.textContent) : null,
    };
  }));
}

/** The same rows, computed by pkg/node from what the page holds (batch, config, connector id). */
async function expectedEvents() {
  const { batch, config, connectorId } = await page.evaluate(() => ({
    batch: document.querySelector("#batch").value,
    config: document.querySelector("#config").value,
    connectorId: document.querySelector("#connector-id").value,
  }));
  const out = relay.translateBatch(batch, config, connectorId);
  const rows = [
    ...out.batches.flatMap((b) => b.events.map((e) => ({
      index: e.index, outcome: "forwarded", event_type: e.event_type, name: JSON.parse(e.json).event, reason: null,
      payload: JSON.parse(e.json),
    }))),
    ...out.filtered.map((e) => ({ index: e.index, outcome: "filtered", event_type: e.event_type, name: null, reason: e.reason, payload: null })),
    ...out.quarantined.map((e) => ({
      index: e.index, outcome: "quarantined", event_type: e.event_type ?? "", name: null, reason: e.reason, payload: null,
    })),
  ].sort((a, b) => a.index - b.index);
  return { out, rows };
}

async function assertPageEqualsPkg() {
  const { out, rows } = await expectedEvents();
  assert.deepEqual(await shownEvents(), rows, "the page shows what pkg/node translateBatch computes");
  const counts = await page.$$eval("[data-count]", (els) => Object.fromEntries(els.map((e) => [e.dataset.count, Number(e.textContent)])));
  assert.deepEqual(counts, {
    received: out.received,
    forwarded: out.batches.reduce((n, b) => n + b.events.length, 0),
    filtered: out.filtered.length,
    quarantined: out.quarantined.length,
  });
  return out;
}

/** Pastes a batch: the whole text arrives at once with one `input` event, as a paste does
 * (`page.fill` types large texts slowly enough to time out on a loaded machine). */
async function pasteBatch(events) {
  const text = JSON.stringify({ events }, null, 2);
  await afterRender(() =>
    page.$eval("#batch", (el, value) => {
      el.value = value;
      el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertFromPaste" }));
    }, text),
  );
}

before(async () => {
  const chromium = await requirePrerequisites();
  try {
    relay = require(path.join(ROOT, "pkg/node/currents_relay.js"));
  } catch (e) {
    throw new Error(`pkg/node is missing: run \`bash scripts/build-pkg.sh\` (${e.message})`);
  }
  server = await serveStatic(WWW);
  browser = await launch(chromium);
});

beforeEach(async () => {
  tab = await browser.open(server.url);
  page = tab.page;
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#engine"));
});

afterEach(async () => {
  try {
    assert.deepEqual(tab.errors, [], "console errors");
    assert.deepEqual(tab.offsite, [], "requests that left the test server");
  } finally {
    await tab.close();
  }
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    const docs = path.join(ROOT, "docs/screenshots");
    mkdirSync(docs, { recursive: true });
    for (const f of readdirSync(SCREENSHOTS).filter((f) => /^playground-.*\.png$/.test(f))) {
      copyFileSync(path.join(SCREENSHOTS, f), path.join(docs, f));
    }
  }
});

test("all samples: every event shows exactly what pkg/node translateBatch gives", async () => {
  await afterRender(() => page.selectOption("#sample", "*"));
  const shownBatch = JSON.parse(await page.inputValue("#batch"));
  const samples = loadSamples().sort((a, b) => a.event_type.localeCompare(b.event_type));
  assert.equal(samples.length, 93);
  assert.deepEqual(shownBatch.events.map((e) => e.event_type).sort(), samples.map((e) => e.event_type).sort());
  const out = await assertPageEqualsPkg();
  assert.equal(out.received, 93);
  assert.ok(out.batches[0].events.length > 90, "almost every sample is forwarded with the default config");
  await screenshot(page, "samples");
});

test("the 82 golden types show their golden event names and payloads", async () => {
  const goldens = loadGoldens();
  assert.equal(goldens.length, 82);
  // tests/golden/connector.json is the default config; only the connector id enters the messageId.
  await afterRender(() => page.fill("#connector-id", "golden"));
  await pasteBatch(goldens.map((g) => g.braze));
  const shown = await shownEvents();
  assert.equal(shown.length, 82);
  shown.forEach((row, i) => {
    assert.equal(row.outcome, "forwarded", goldens[i].braze.event_type);
    assert.equal(row.name, goldens[i].segment.event, goldens[i].braze.event_type);
    assert.deepEqual(row.payload, goldens[i].segment, goldens[i].braze.event_type);
  });
  await assertPageEqualsPkg();
});

test("naming profile segment_catalog: Email Unsubscribed appears, live", async () => {
  await afterRender(() => page.selectOption("#sample", "*"));
  const unsub = async () => (await shownEvents()).find((e) => e.event_type === "users.messages.email.Unsubscribe");
  assert.equal((await unsub()).name, "Unsubscribed");
  await afterRender(() => page.getByLabel("Segment catalog (segment_catalog)").check());
  assert.equal((await unsub()).name, "Email Unsubscribed");
  assert.equal(JSON.parse(await page.inputValue("#config")).naming.profile, "segment_catalog", "the JSON follows the form");
  await assertPageEqualsPkg();
  await page.locator('#events li[data-event-name="Email Unsubscribed"] summary').click();
  await page.locator('#events li[data-event-name="Email Unsubscribed"]').scrollIntoViewIfNeeded();
  await screenshot(page, "segment-catalog");
});

test("include_anonymous: a filtered anonymous event becomes forwarded; quarantine shows reason and detail", async () => {
  const events = [
    { id: "anon-1", event_type: "users.messages.email.Send", time: 2033802504, user: { user_id: "braze-user-1" }, properties: { campaign_name: "welcome" } },
    { id: "known-1", event_type: "users.messages.email.Open", time: 2033802504, user: { user_id: "braze-user-2", external_user_id: "u-1" } },
    { id: "bad-time", event_type: "users.messages.email.Send", time: -5, user: { user_id: "braze-user-3", external_user_id: "u-2" } },
  ];
  await pasteBatch(events);
  let shown = await shownEvents();
  assert.deepEqual(shown.map((e) => [e.outcome, e.reason]),
    [["filtered", "anonymous_user"], ["forwarded", null], ["quarantined", "invalid_time"]]);
  const detail = await page.textContent('#events li[data-index="2"] .reason-detail');
  assert.ok(detail.length > 3, "quarantine detail is shown");
  await assertPageEqualsPkg();
  for (const i of [0, 2]) await page.click(`#events li[data-index="${i}"] summary`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, "filtered-quarantined");
  await afterRender(() => page.getByLabel(/Forward anonymous users/).check());
  shown = await shownEvents();
  assert.equal(shown[0].outcome, "forwarded");
  assert.equal(shown[0].payload.anonymousId, "braze-user-1");
  assert.equal(shown[0].payload.userId, undefined);
  await assertPageEqualsPkg();
});

test("an invalid batch shows a clear error, and the page keeps working", async () => {
  await afterRender(() => page.fill("#batch", '{"events": [ {"id": oops'));
  const banner = page.locator("#error");
  assert.ok(await banner.isVisible());
  assert.match(await banner.textContent(), /invalid_json/);
  assert.match(await page.textContent("#batch-error"), /invalid_json: body is not valid JSON/);
  assert.equal(await page.getAttribute("#batch", "aria-invalid"), "true");
  assert.equal(await page.locator("#events > li").count(), 0);
  await screenshot(page, "invalid-batch");
  await afterRender(() => page.fill("#batch", "[1, 2]"));
  assert.match(await banner.textContent(), /not_an_object/);
  await afterRender(() => page.selectOption("#sample", "users.messages.email.Open"));
  assert.ok(await banner.isHidden());
  assert.equal(await page.getAttribute("#batch", "aria-invalid"), "false");
  await assertPageEqualsPkg();
});

test("an invalid config field is shown at that field, in the form and under the JSON", async () => {
  await page.click("#advanced summary");
  const good = await page.inputValue("#config");
  const bad = JSON.parse(good);
  bad.naming.profile = "klingon";
  await afterRender(() => page.fill("#config", JSON.stringify(bad, null, 2)));
  const atField = page.locator('fieldset[data-config-field~="naming.profile"] .field-error');
  assert.ok(await atField.isVisible());
  assert.match(await atField.textContent(), /naming\.profile: unknown variant `klingon`/);
  assert.match(await page.textContent('#config-errors li[data-field="naming.profile"]'), /klingon/);
  assert.equal(await page.getAttribute("#config", "aria-invalid"), "true");
  await page.locator('fieldset[data-config-field~="naming.profile"]').scrollIntoViewIfNeeded();
  await screenshot(page, "invalid-config");

  await afterRender(() => page.fill("#config", JSON.stringify({ ...JSON.parse(good), retention_hours: 0 })));
  assert.match(await page.textContent('#config-errors li[data-field="retention_hours"]'), /retention_hours/);
  assert.ok(await atField.isHidden(), "the profile error is gone once fixed");

  await afterRender(() => page.fill("#config", "{ nope"));
  assert.match(await page.textContent("#config-errors"), /not valid JSON/);
  assert.match(await page.textContent("#error"), /connector JSON is not valid/);

  await afterRender(() => page.fill("#config", good));
  assert.ok(await page.locator("#config-errors").isHidden());
});

test("keyboard: Tab reaches every control, focus is visible, options work from the keyboard", async () => {
  // A fresh page: Tab starts at the top (it opens with every sample).
  const want = ["skip-link", "nav:Playground", "nav:Console", "sample", "file", "batch", "connector-id",
    "profile", "custom-event-names", "override-type", "override-name", "override-add", "include-anonymous",
    "message-id", "selection", "forward-unknown", "advanced", "show", "expand", "event-0"];
  const reached = new Set();
  let outlineSeen = true;
  for (let i = 0; i < 40 && reached.size < want.length; i++) {
    await page.keyboard.press("Tab");
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      const key = el.classList.contains("skip-link") ? "skip-link"
        : el.closest("nav") ? `nav:${el.textContent}`
        : el.closest("#advanced") && el.tagName === "SUMMARY" ? "advanced"
        : el.closest("#events") ? `event-${el.closest("li").dataset.index}`
        : el.name || el.id;
      return { key, outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
    });
    reached.add(info.key);
    if (want.includes(info.key) && !info.outline) outlineSeen = false;
  }
  assert.deepEqual(want.filter((k) => !reached.has(k)), [], "controls not reached by Tab");
  assert.ok(outlineSeen, "every focused control shows a visible outline");

  // Radios change with the arrow keys, checkboxes with Space, and the page re-translates.
  await page.focus('input[name=profile][value=braze]');
  await afterRender(() => page.keyboard.press("ArrowDown"));
  assert.ok(await page.isChecked('input[name=profile][value=segment_catalog]'));
  assert.ok((await shownEvents()).some((e) => e.name === "Email Unsubscribed"));
  await screenshot(page, "keyboard");
  await afterRender(() => page.keyboard.press("ArrowUp"));
  await page.focus("#include-anonymous");
  await afterRender(() => page.keyboard.press("Space"));
  assert.equal(JSON.parse(await page.inputValue("#config")).identity.include_anonymous, true);
  await afterRender(() => page.keyboard.press("Space"));
});

test("event selection: a chosen subset filters the rest as not_selected; forward_unknown off filters unknown types", async () => {
  await afterRender(() => page.selectOption("#sample", "*"));
  await afterRender(() => page.getByLabel(/Only the types chosen below/).check());
  await afterRender(() => page.click("#types-none"));
  await afterRender(() => page.getByLabel("users.messages.email.Send", { exact: true }).check());
  await afterRender(() => page.getByLabel(/Forward types the translator does not know/).uncheck());
  const config = JSON.parse(await page.inputValue("#config"));
  assert.deepEqual(config.events, { forward_unknown: false, include: ["users.messages.email.Send"] });
  const shown = await shownEvents();
  assert.deepEqual(shown.filter((e) => e.outcome === "forwarded").map((e) => e.event_type), ["users.messages.email.Send"]);
  assert.ok(shown.some((e) => e.reason === "not_selected"));
  assert.ok(shown.some((e) => e.reason === "unknown_type"));
  await assertPageEqualsPkg();
});

test("the page loads its engine and samples from the test server, nothing from elsewhere", async () => {
  const paths = tab.requests.map((u) => new URL(u).pathname);
  assert.ok(paths.includes("/pkg/web/currents_relay_bg.wasm"), paths.join("\n"));
  assert.ok(paths.includes("/samples.json"), paths.join("\n"));
  assert.ok(tab.requests.every((u) => u.startsWith(server.url)), tab.requests.join("\n"));
});

test("upload: a batch file from the file input is translated", async () => {
  const events = [loadSamples().find((e) => e.event_type === "users.messages.pushnotification.Send")];
  await afterRender(() => page.setInputFiles("#file", {
    name: "batch.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify({ events })),
  }));
  assert.equal(JSON.parse(await page.inputValue("#batch")).events[0].event_type, "users.messages.pushnotification.Send");
  assert.equal(await page.inputValue("#sample"), "");
  const shown = await assertPageEqualsPkg();
  assert.equal(shown.received, 1);
});

test("the Console link leads to the operator Console (sign-in first)", async () => {
  await page.click("nav >> text=Console");
  await page.waitForURL(/console\.html$/);
  assert.equal(await page.title(), "Console · currents-relay");
  await page.waitForSelector("body[data-view=signin]");
  assert.match(await page.textContent("main"), /admin token/);
  await screenshot(page, "console");
});

test("the page shows what the Worker sends: a batch nested 12,000 deep is a 200, numbers are kept as written", async () => {
  // The Worker answers 200 to this batch (tests/e2e/hostile.test.mjs: nesting is never recursed
  // into): an event that is an array 12,000 deep is quarantined, an event whose property is 12,000
  // deep (with numbers JavaScript cannot hold) is forwarded verbatim.
  const nested = (depth) => "[".repeat(depth) + "]".repeat(depth);
  const numbers = '"big":9007199254740993,"huge":1e400';
  const forwarded = '{"id":"deep-1","event_type":"users.messages.email.Send","time":2033802504,'
    + `"user":{"user_id":"b-1","external_user_id":"u-1"},"properties":{${numbers},"deep":${nested(12_000)}}}`;
  const body = `{"events":[${forwarded},${nested(12_000)}]}`;
  const out = relay.translateBatch(body, await page.inputValue("#config"), await page.inputValue("#connector-id"));
  assert.deepEqual(out.summary, { received: 2, accepted: 1, filtered: 0, quarantined: 1, batches: 1 });

  await afterRender(() => page.fill("#batch", body));
  assert.ok(await page.locator("#error").isHidden(), await page.textContent("#error"));
  assert.equal(await page.getAttribute("#batch", "aria-invalid"), "false");
  const counts = await page.$$eval("[data-count]", (els) => Object.fromEntries(els.map((e) => [e.dataset.count, Number(e.textContent)])));
  assert.deepEqual(counts, { received: 2, forwarded: 1, filtered: 0, quarantined: 1 });

  // The shown text is the Worker's text token for token: only whitespace between tokens differs.
  const tokens = (text) => text.match(/"(?:[^"\\]|\\.)*"|[{}[\],:]|[^\s{}[\],:"]+/g);
  const payload = await page.textContent('#events li[data-index="0"] pre.payload');
  const track = out.batches[0].events[0].json;
  assert.deepEqual(tokens(payload), tokens(track));
  assert.match(payload, /"big": 9007199254740993,/);
  assert.match(payload, /"huge": 1e400,/);
  assert.equal(await page.getAttribute('#events li[data-index="1"]', "data-reason"), "not_an_object");
  const raw = await page.textContent('#events li[data-index="1"] pre.raw');
  assert.deepEqual(tokens(raw), tokens(out.quarantined[0].raw));
  assert.ok(raw.length < 100_000, `deep levels are shown as raw text, not indented (${raw.length} characters)`);
});
