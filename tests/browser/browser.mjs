// Drives Debian's Chromium (/usr/bin/chromium) headless through playwright-core, on a fresh profile,
// with every request that does not go to the test server aborted and recorded: the page must work
// with no network. Missing prerequisites fail with what to run, never skip.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const WWW = path.join(ROOT, "build/www");
export const SCREENSHOTS = path.join(ROOT, ".tmp/screenshots");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const VIEWPORT = { width: 1280, height: 800 };
/** Flags that work on this machine kind (TOOLCHAIN.md); Playwright adds --headless itself. */
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

/** Launches Chromium on a fresh user-data-dir; `offsite` collects every blocked non-local request. */
export async function launch(chromium, origin) {
  const tmp = path.join(ROOT, ".tmp");
  mkdirSync(tmp, { recursive: true });
  const profile = mkdtempSync(path.join(tmp, "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: VIEWPORT,
    offline: false,
  });
  const offsite = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  return {
    context,
    offsite,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a viewport screenshot as .tmp/screenshots/<page>-<name>.png (page: "playground" by default). */
export async function screenshot(page, name, { prefix = "playground", fullPage = false } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${prefix}-${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}
