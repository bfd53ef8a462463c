// The Console's alert rules in a real headless Chromium, against the real built Worker (under
// Miniflare, tests/e2e/harness.mjs; the static server forwards /admin/ to it): the connector form
// sets the rules (the webhook URL stays write-only, errors appear at their fields), the scheduled
// handler evaluates them, and the "Alerts" panel shows each rule's state and whether the webhook
// was told.
//
// Screenshot: .tmp/screenshots/console-alerts.png; `UPDATE_SCREENSHOTS=1` also copies it into
// docs/screenshots/.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { ADMIN_TOKEN, newWriteKey, waitFor } from "../e2e/harness.mjs";
import {
  ROOT, closeCleanly, openConnectorById, openTab, requirePrerequisites, screenshot, signInToConsole, startSite,
} from "./browser.mjs";

const WRITE_KEY = newWriteKey("alerts");
const HOOK_SECRET = `hooksecret${Date.now()}`;
const HOUR = 3_600_000;

let h, server, browser, receiver, hookUrl;
let tab, page;
const received = [];

before(async () => {
  const chromium = await requirePrerequisites();
  receiver = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => { text += c; });
    req.on("end", () => {
      received.push(JSON.parse(text));
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${receiver.address().port}/hook/${HOOK_SECRET}`;
  ({ h, server, browser } = await startSite(chromium, { writeKeys: { main: WRITE_KEY } }));
});

beforeEach(async () => {
  tab = await openTab(browser, server);
  page = tab.page;
});

/** The form's deliberate invalid save answers 422, which Chromium logs as a failed load. */
afterEach(() => closeCleanly(tab, { expectedErrors: /422|Unprocessable/ }));

after(async () => {
  await browser?.close();
  await server?.close();
  await h?.close();
  receiver?.close();
});

const signedInConsole = () => signInToConsole(page, server.url, ADMIN_TOKEN);
const openConnector = (id) => openConnectorById(page, id, "alertsLoads");

/** Saves the open form and waits for the editor to close. */
async function save() {
  await page.click("#f-submit");
  await page.waitForSelector("#editor", { state: "hidden" });
}

test("Console: the form sets the rules, the panel shows their state", async () => {
  const id = "acme-alerts";
  const created = await h.admin("POST", "/admin/connectors", {
    id, config: { destinations: { main: { write_key: WRITE_KEY, region: "us" } }, paused: true },
  });
  assert.equal(created.status, 201, created.text);
  await signedInConsole();
  await openConnector(id);
  assert.match(await page.textContent("#alerts"), /No alert rules/);

  // The form: a rule without a webhook is refused at its field; then a webhook and two rules.
  await page.click("#edit");
  await page.waitForSelector("#editor:not([hidden])");
  await page.fill("#f-alert-held", "1");
  await page.click("#f-submit");
  await page.waitForSelector("#form-errors:not([hidden])");
  assert.equal(await page.getAttribute("#f-alert-url", "aria-invalid"), "true");
  await page.fill("#f-alert-url", hookUrl);
  await page.check("#f-alert-types");
  await save();
  let config = (await h.admin("GET", `/admin/connectors/${id}`)).json.config;
  assert.deepEqual(config.alerts, { webhook_url: `****${HOOK_SECRET.slice(-4)}`, held_hours: 1, new_event_types: true });

  // Editing again keeps the stored URL (the form never holds it) and changes a rule.
  await page.click("#edit");
  await page.waitForSelector("#editor:not([hidden])");
  assert.equal(await page.inputValue("#f-alert-url"), "", "the stored URL is never put in the form");
  assert.match(await page.getAttribute("#f-alert-url", "placeholder"), new RegExp(`\\*\\*\\*\\*${HOOK_SECRET.slice(-4)}`));
  assert.equal(await page.inputValue("#f-alert-held"), "1");
  await page.fill("#f-alert-quarantine", "50");
  await save();
  config = (await h.admin("GET", `/admin/connectors/${id}`)).json.config;
  assert.equal(config.alerts.quarantine_per_hour, 50);
  assert.equal(config.alerts.webhook_url, `****${HOOK_SECRET.slice(-4)}`);

  // Events wait on the paused connector for over an hour of the Worker's clock; the scheduled
  // handler runs; the webhook hears of it (with the stored URL) and the panel shows it.
  const sent = await h.post(id, { events: [{ id: "a-1", event_type: "users.messages.email.Send", time: 1_767_225_600, user: { user_id: "b", external_user_id: "u" } }] }, { token: created.json.token });
  assert.equal(sent.status, 200, sent.text);
  await waitFor(async () => (await h.admin("GET", `/admin/connectors/${id}/stats`)).json?.held?.paused >= 1);
  await h.setClockOffset(HOUR + 10 * 60_000);
  try {
    await (await h.mf.getWorker("currents-relay")).scheduled({ cron: "*/5 * * * *" });
  } finally {
    await h.setClockOffset(0);
  }
  assert.deepEqual(received.map((b) => `${b.rule}:${b.state}`), ["events_held:firing"]);
  await openConnector(id);
  const rows = await page.$$eval("#alerts tr[data-alert-rule]", (trs) => trs.map((r) => ({
    rule: r.dataset.alertRule, firing: r.dataset.firing, text: r.textContent,
  })));
  assert.deepEqual(rows.map((r) => [r.rule, r.firing]),
    [["events_held", "true"], ["quarantine_growth", "false"], ["new_event_types", "false"]]);
  assert.match(rows[0].text, /Firing.*1 event pending, the oldest for 1 h 10 min; the connector is paused.*told/);
  assert.match(await page.textContent("#alerts-count"), /1 firing/);
  assert.ok(!(await page.content()).includes(HOOK_SECRET), "the webhook URL is never on the page");

  await page.locator("#alerts-panel").scrollIntoViewIfNeeded();
  const shot = await screenshot(page, "alerts", { prefix: "console" });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    mkdirSync(path.join(ROOT, "docs/screenshots"), { recursive: true });
    copyFileSync(shot, path.join(ROOT, "docs/screenshots/console-alerts.png"));
  }
});
