// Runs the real `npm start` (scripts/dev.mjs) for the tests of tests/local/: on free ports, in its
// own process group (so a test can stop it with SIGTERM/SIGINT like Ctrl-C, or SIGKILL the whole
// group like a crash), with wrangler's log files in a temporary folder. The console output is kept
// in memory and never printed: it holds the demo credentials. On failure only lines without a
// credential are shown.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DEMO_FILE = path.join(ROOT, ".wrangler/demo-connector.json");
export const DEV_VARS = path.join(ROOT, ".dev.vars");
const TMP = path.join(ROOT, ".tmp");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nobody listens on right now (the OS picks it). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `predicate` until it returns a truthy value (returned); throws after `timeoutMs`. */
export async function waitFor(predicate, { timeoutMs = 30_000, intervalMs = 200, message = "" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await sleep(intervalMs);
  }
}

/** Output lines that hold no credential: what a failing test may show. */
export function safeLines(text, last = 40) {
  return text
    .split("\n")
    .filter((l) => !/token|write.?key|authorization|adm_|bearer/i.test(l))
    .slice(-last)
    .join("\n");
}

/** Every file under `dir`, recursively, as text (wrangler's log files). */
export function readTree(dir) {
  if (!existsSync(dir)) return "";
  let out = "";
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    out += statSync(full).isDirectory() ? readTree(full) : readFileSync(full, "utf8");
  }
  return out;
}

/**
 * Starts `npm start` and waits for its banner. Options: `env` (extra environment),
 * `logDir` (WRANGLER_LOG_PATH; a fresh temporary folder by default), `ports` ({relay, sink}).
 */
export async function startNpmStart({ env = {}, logDir, ports, timeoutMs = 240_000 } = {}) {
  const relay = ports?.relay ?? (await freePort());
  const sink = ports?.sink ?? (await freePort());
  const logs = logDir ?? mkdtempSync(path.join(TMP, "wrangler-logs-"));
  const child = spawn(process.execPath, ["scripts/dev.mjs"], {
    cwd: ROOT,
    detached: true, // its own process group: the test can signal dev.mjs, wrangler and workerd together
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      RELAY_PORT: String(relay),
      SINK_PORT: String(sink),
      WRANGLER_LOG_PATH: logs,
      ...env,
    },
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => (exit = e));

  const run = {
    child,
    pid: child.pid,
    relayUrl: `http://127.0.0.1:${relay}`,
    sinkUrl: `http://127.0.0.1:${sink}`,
    ports: { relay, sink },
    logDir: logs,
    output: () => output,
    exited,
    get exit() {
      return exit;
    },
    demo: () => JSON.parse(readFileSync(DEMO_FILE, "utf8")),
    /** Sends `signal` to dev.mjs only (SIGINT/SIGTERM: what Ctrl-C or a service manager does). */
    signal: (signal) => {
      try {
        process.kill(child.pid, signal);
      } catch {
        // already gone
      }
    },
    /** SIGKILL to the whole group: dev.mjs, wrangler, workerd, as a power cut would. */
    killGroup: () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
    /** Stops it (SIGINT, then SIGKILL to the group after 15 s); resolves with its exit. */
    stop: async () => {
      if (exit) return exit;
      run.signal("SIGINT");
      const timer = setTimeout(run.killGroup, 15_000);
      const e = await exited;
      clearTimeout(timer);
      // whatever dev.mjs left behind in its group
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // nothing left
      }
      if (!logDir) rmSync(logs, { recursive: true, force: true }); // the temporary log folder
      return e;
    },
  };

  const banner = /LOCAL DEMO ONLY[^\n]*\n=+\n[\s\S]*?\n=+\n/;
  try {
    await waitFor(() => banner.test(output) || exit, { timeoutMs, intervalMs: 250, message: "npm start banner" });
  } catch (e) {
    run.killGroup();
    throw new Error(`${e.message}\n--- npm start output (credential lines removed)\n${safeLines(output)}`);
  }
  if (exit) {
    throw new Error(`npm start exited early (${JSON.stringify(exit)})\n${safeLines(output)}`);
  }
  return run;
}

/** `{status, json}` of a JSON request to a running `npm start`. */
export async function request(url, { method = "GET", body, token, headers = {} } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}
