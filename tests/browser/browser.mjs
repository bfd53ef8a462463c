// Drives Debian's headless Chromium (/usr/bin/chromium-headless-shell) through playwright-core, one fresh browser
// context per test, with every request that does not go to the test server aborted and recorded:
// the page must work with no network. Missing prerequisites fail with what to run, never skip.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { startHarness } from "../e2e/harness.mjs";
import { ROOT, WWW } from "../e2e/wrangler.mjs";
import { serveStatic } from "./static-server.mjs";

/** The checkout, and the static site wrangler.toml's [assets] serves (build/www). */
export { ROOT, WWW };
export const SCREENSHOTS = path.join(ROOT, ".tmp/screenshots");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium-headless-shell";
export const VIEWPORT = { width: 1280, height: 800 };
/** Flags that work on this machine kind (without the background-networking flags Chromium keeps trying the closed network); Playwright adds --headless itself. */
const FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

/** Throws a message that says what to run when Chromium, playwright-core or build/www is missing. */
export async function requirePrerequisites() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: run \`bash scripts/setup-browser.sh\``);
  }
  for (const file of ["index.html", "samples.json", "pkg/web/currents_relay.js", "pkg/web/currents_relay_bg.wasm"]) {
    if (!existsSync(path.join(WWW, file))) {
      throw new Error(`build/www/${file} is missing: run \`bash scripts/build-pkg.sh && bash scripts/build-www.sh\``);
    }
  }
  try {
    return (await import("playwright-core")).chromium;
  } catch (e) {
    throw new Error(`playwright-core is missing: run \`bash scripts/setup-node.sh\` (${e.message})`);
  }
}

/**
 * Launches Chromium once (a test file shares the browser process). `open(origin)` gives each test
 * its own browser context and page, so no test sees the cookies, storage, cache, history or
 * focus another left: `{context, page, requests, offsite, errors, close()}`, where `requests`
 * lists every URL the page asked for, `offsite` those not under `origin` (aborted: the page must
 * work with no network) and `errors` the page's uncaught errors and console errors.
 */
export async function launch(chromium) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  return {
    browser,
    async open(origin) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const requests = [];
      const offsite = [];
      await context.route("**/*", (route) => {
        const url = route.request().url();
        requests.push(url);
        if (url.startsWith(origin)) return route.continue();
        offsite.push(url);
        return route.abort();
      });
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
      return { context, page, requests, offsite, errors, close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

/** Saves a viewport screenshot as .tmp/screenshots/<page>-<name>.png (page: "playground" by default). */
export async function screenshot(page, name, { prefix = "playground", fullPage = false } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${prefix}-${name}.png`);
  const scrolled = await page.evaluate(() => window.scrollY);
  await page.screenshot({ path: file, fullPage });
  // A full-page shot lays the page out at its full height and back; on a long page Chromium can
  // then jump the scroll position at the next mouse press (seen on the connector form), so the
  // press and the release land on different elements. Re-applying the position settles it.
  if (fullPage) await page.evaluate((y) => window.scrollTo(0, y), scrolled);
  return file;
}

/**
 * Closes a test's tab after checking it logged no console error (but those matching
 * `expectedErrors`, e.g. the failed loads of answers a test provokes) and sent nothing off-site.
 */
export async function closeCleanly(tab, { expectedErrors = null } = {}) {
  try {
    const errors = expectedErrors ? tab.errors.filter((e) => !expectedErrors.test(e)) : tab.errors;
    assert.deepEqual(errors, [], "console errors");
    assert.deepEqual(tab.offsite, [], "requests that left the test server");
  } finally {
    await tab.close();
  }
}

/**
 * Opens the Console of the site at `base`, signs in with `adminToken` and waits for the connector
 * list sign-in loads (a load still in flight would replace the rows under a later click).
 */
export async function signInToConsole(page, base, adminToken) {
  await page.goto(new URL("console.html", base).href);
  await page.waitForSelector("body[data-ready=true]");
  await page.fill("#admin-token", adminToken);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("body[data-view=app]");
  await page.waitForFunction(() => Number(document.body.dataset.listLoads ?? 0) > 0);
}

/**
 * Opens connector `id` by its id in the signed-in Console and waits until the panel whose load
 * counter is `document.body.dataset[loads]` (e.g. "driftLoads", "alertsLoads") has loaded again,
 * and the Console has finished opening it.
 */
export async function openConnectorById(page, id, loads) {
  const before = Number(await page.evaluate((k) => document.body.dataset[k] ?? 0, loads));
  await page.fill("#open-id", id);
  await page.click("#open-form button[type=submit]");
  await page.waitForFunction(([k, n]) => Number(document.body.dataset[k] ?? 0) > n, [loads, before], { timeout: 30_000 });
  // Every panel has loaded (and the focus moved to the connector's title) when the Console says so.
  await page.waitForFunction((i) => document.querySelector("#notice")?.textContent === `Connector ${i} loaded.`,
    id, { timeout: 30_000 });
}

/**
 * The built Worker under Miniflare (tests/e2e/harness.mjs, with `harnessOptions`), build/www
 * served in front of it (/admin/ and /v1/ forwarded to it), and Chromium.
 */
export async function startSite(chromium, harnessOptions) {
  const h = await startHarness(harnessOptions);
  const server = await serveStatic(WWW, { upstream: (url, init) => h.mf.dispatchFetch(url, init) });
  const browser = await launch(chromium);
  return { h, server, browser };
}

/** A fresh tab on `server`, with the page tests' default timeout. */
export async function openTab(browser, server) {
  const tab = await browser.open(server.url);
  tab.page.setDefaultTimeout(10_000);
  return tab;
}
