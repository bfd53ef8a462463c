// The pages' and the API's security headers in a real headless Chromium, against the built Worker
// serving everything itself: build/www through its asset handler (wrangler.toml [assets], with the
// `_headers` file scripts/build-www.sh writes) and the API from the Worker's answers. A Node
// server on 127.0.0.1 forwards every request to Miniflare (tests/browser/static-server.mjs with
// the prefix "/"), so the browser sees the Worker's own headers on one origin.
//
// Checked: the headers on `/`, `/console.html` and API answers; a page of another origin cannot
// frame the Console; both pages work under the policy (no `securitypolicyviolation` event, no
// console error).

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { ADMIN_TOKEN, connectorConfig, newToken, newWriteKey, startHarness } from "../e2e/harness.mjs";
import { WWW, launch, requirePrerequisites } from "./browser.mjs";
import { serveStatic } from "./static-server.mjs";

const WRITE_KEY = newWriteKey("main");
/** The header values the Worker and its asset handler must send (src/web/security.rs). */
const EXPECTED = {
  "content-security-policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    + "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};
let h, server, other, browser, adminToken;
let tab, page;

/** Records every CSP violation of every document of the context, before any page script runs. */
async function recordViolations(context) {
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
}

const violations = () => page.evaluate(() => window.__violations);

function assertHeaders(headers, what) {
  for (const [name, value] of Object.entries(EXPECTED)) assert.equal(headers[name], value, `${what}: ${name}`);
}

before(async () => {
  const chromium = await requirePrerequisites();
  h = await startHarness({ writeKeys: { main: WRITE_KEY } });
  adminToken = h.adminToken ?? ADMIN_TOKEN;
  server = await serveStatic(WWW, { upstream: (url, init) => h.mf.dispatchFetch(url, init), prefixes: ["/"] });
  // Another origin (another port on the same loopback address) whose page frames the Console.
  const target = new URL("console.html", server.url).href;
  const otherServer = createServer((req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
    .end(`<!doctype html><title>Other site</title><iframe id="framed" src="${target}"></iframe>`));
  await new Promise((resolve) => otherServer.listen(0, "127.0.0.1", resolve));
  other = { url: `http://127.0.0.1:${otherServer.address().port}/`, close: () => new Promise((r) => otherServer.close(r)) };
  browser = await launch(chromium);
});

beforeEach(async () => {
  tab = await browser.open(server.url);
  page = tab.page;
  page.setDefaultTimeout(15_000);
  await recordViolations(tab.context);
});

afterEach(async () => {
  try {
    assert.deepEqual(tab.offsite, [], "requests that left the test server");
  } finally {
    await tab.close();
  }
});

after(async () => {
  await browser?.close();
  await server?.close();
  await other?.close();
  await h?.close();
});

test("the Playground, the Console and the API answers carry the security headers", async () => {
  const playground = await page.goto(server.url);
  assertHeaders(playground.headers(), "/");
  const consolePage = await page.goto(new URL("console.html", server.url).href);
  assertHeaders(consolePage.headers(), "/console.html");
  for (const [path, status, init] of [
    ["health", 200, {}],
    ["admin/connectors", 401, {}],
    ["admin/connectors", 200, { headers: { authorization: `Bearer ${adminToken}` } }],
    ["v1/currents/nobody", 404, { method: "POST", body: "{}" }],
    ["no-such-page", 404, {}],
    ["pkg/web/currents_relay_bg.wasm", 200, {}],
  ]) {
    const res = await fetch(new URL(path, server.url), init);
    await res.arrayBuffer();
    assert.equal(res.status, status, path);
    assertHeaders(Object.fromEntries(res.headers), `/${path} (${res.status})`);
  }
});

test("a page of another origin cannot frame the Console", async () => {
  const target = new URL("console.html", server.url).href;
  await tab.context.route(`${other.url}**`, (route) => route.continue());
  // goto resolves on the load event, which waits for the frame's own load (or refusal).
  await page.goto(other.url);
  const frame = await (await page.$("#framed")).contentFrame();
  const inside = await frame.evaluate(() => document.querySelector("#admin-token") !== null).catch(() => false);
  // Chromium puts its error page in a refused frame.
  assert.notEqual(frame.url(), target, "the Console is not loaded in the frame");
  assert.equal(inside, false, "no sign-in field in the frame");
});

test("the Playground works under the policy: the translator runs, no violation, no console error", async () => {
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#engine"));
  await page.waitForSelector("#events > li");
  assert.ok(Number(await page.textContent('[data-count="received"]')) > 0);
  assert.deepEqual(await violations(), []);
  assert.deepEqual(tab.errors, [], "console errors");
});

test("the Console works under the policy: sign in, a connector with its stats chart, no violation", async () => {
  const id = "csp-console";
  await h.putConnector(id, connectorConfig(newToken(), WRITE_KEY));
  await page.goto(new URL("console.html", server.url).href);
  await page.waitForSelector("body[data-ready=true]");
  await page.fill("#admin-token", adminToken);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("body[data-view=app]");
  await page.waitForSelector(`#connectors [data-open="${id}"]`);
  await page.click(`#connectors [data-open="${id}"]`);
  await page.waitForSelector("#stats .counters");
  await page.waitForSelector("#stats svg.chart");
  await page.waitForSelector("#stats .legend .swatch");
  assert.deepEqual(await violations(), []);
  assert.deepEqual(tab.errors, [], "console errors");
});
