// If workerd (the runtime under `wrangler dev`) dies, `npm start` must not sit there serving
// nothing: it says so and exits with a non-zero status.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, test } from "node:test";
import { safeLines, startNpmStart, waitFor } from "./npm-start.mjs";

let running;
after(async () => running?.stop());

/** Pids of the processes named `name` in process group `pgid` (Linux /proc). */
function groupProcesses(pgid, name) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp ...
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      if (comm === name && Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

test("npm start: workerd killed → npm start says so and exits non-zero", async () => {
  running = await startNpmStart();
  const workerd = await waitFor(() => {
    const pids = groupProcesses(running.pid, "workerd");
    return pids.length > 0 && pids;
  }, { timeoutMs: 10_000, message: "a workerd process in npm start's process group" });
  for (const pid of workerd) process.kill(pid, "SIGKILL");
  const exit = await Promise.race([
    running.exited,
    new Promise((resolve) => setTimeout(() => resolve(null), 60_000)),
  ]);
  assert.ok(exit, `npm start still runs 60 s after workerd died\n${safeLines(running.output())}`);
  assert.notEqual(exit.code, 0, `exit status ${JSON.stringify(exit)}`);
  assert.match(running.output(), /\[dev\] .*workerd.*(stopped|died|exited)/i, safeLines(running.output()));
});
