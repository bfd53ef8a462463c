// `npm start` only: the entry module wrangler dev runs instead of build/index.js, so that queue
// messages survive a restart of the local run. Never deployed (`wrangler deploy` uses
// wrangler.toml's `main`, the built Worker itself).
//
// Why: wrangler 4.86 / Miniflare 4.20260426 keep Queues in memory only (the queue broker holds
// its messages in a JavaScript array; there is no `queuesPersist`, and `--persist-to` covers KV,
// R2, D1, Durable Objects and the cache, not queues). Stopping `npm start`, or a crash, lost every
// accepted message still waiting (held for a paused connector, retrying, delayed).
//
// How: the Worker's `DELIVERY` producer is wrapped. Each message sent is first written to the
// local KV namespace `LOCAL_QUEUE_JOURNAL` (persisted under .wrangler/state like the rest) under a
// fresh id, then sent as text with one more line in front, `local-journal:<id>` (a JSON wrapper
// would escape the body's quotes and push a full message over the queue's 128 KB). The queue
// handler unwraps it before the Worker sees it, and deletes the journal entry when the Worker
// acks the message (its fate is then stored: delivered, re-enqueued and so journaled again, or
// quarantined). Messages the platform moves to the dead-letter queue keep their id and leave the
// journal when the dead-letter consumer acks them. When the Worker starts (its first request or
// queue batch), every entry still in the journal is sent again, without delay: what was waiting
// when the previous run stopped comes back, with the same messageIds (the body is unchanged).
//
// Limits: a message whose ack and journal deletion were cut short by a crash is sent again (at
// least once, as on the platform; Segment dedupes messageIds). A reload of the Worker inside one
// run (wrangler rebuilding after a change) restarts the queues as well, so the journal is sent
// again then too.

import { WorkerEntrypoint } from "cloudflare:workers";
import Relay from "../build/index.js";

export * from "../build/index.js";

const JOURNAL_BINDING = "LOCAL_QUEUE_JOURNAL";
const QUEUE_BINDING = "DELIVERY";
const MARK = "local-journal:";
const PREFIX = "msg:";

/** The journal id of a queued body and the Worker's own body; id null for a body not wrapped here. */
function unwrap(body) {
  if (typeof body === "string" && body.startsWith(MARK)) {
    const newline = body.indexOf("\n");
    if (newline > 0) return { id: body.slice(MARK.length, newline), body: body.slice(newline + 1) };
  }
  return { id: null, body };
}

/** The Worker's bodies are JSON text (src/delivery/queue.rs); anything else is stringified. */
const wrapped = (id, body) => `${MARK}${id}\n${typeof body === "string" ? body : JSON.stringify(body)}`;

/**
 * The producer the Worker sees: the same `send` / `sendBatch` as the platform's, journaling first.
 * Named `WorkerQueue` because workers-rs checks a binding's constructor name.
 */
class WorkerQueue {
  constructor(queue, journal) {
    this.queue = queue;
    this.journal = journal;
  }

  async record(body) {
    const id = crypto.randomUUID();
    await this.journal.put(PREFIX + id, JSON.stringify({ body, at: Date.now() }));
    return id;
  }

  async forget(ids) {
    await Promise.all(ids.map((id) => this.journal.delete(PREFIX + id)));
  }

  async send(body, options = {}) {
    const id = await this.record(body);
    try {
      return await this.queue.send(wrapped(id, body), { ...options, contentType: "text" });
    } catch (e) {
      await this.forget([id]); // refused: the Worker answers 503, nothing was accepted
      throw e;
    }
  }

  async sendBatch(messages, options) {
    const ids = await Promise.all(messages.map((m) => this.record(m.body)));
    const out = messages.map((m, i) => ({ ...m, body: wrapped(ids[i], m.body), contentType: "text" }));
    try {
      return await this.queue.sendBatch(out, options);
    } catch (e) {
      await this.forget(ids);
      throw e;
    }
  }
}

/** The Worker's env with the journaling producer in place of `DELIVERY`. */
function localEnv(env) {
  return { ...env, [QUEUE_BINDING]: new WorkerQueue(env[QUEUE_BINDING], env[JOURNAL_BINDING]) };
}

let restoring = null;

/** Sends the journal's entries again, once per start of the Worker. */
function restoreOnce(env) {
  restoring ??= restore(env).catch((e) => {
    restoring = null; // try again on the next request
    console.error(`[local-queue] could not send the journal again: ${e}`);
  });
  return restoring;
}

async function restore(env) {
  const journal = env[JOURNAL_BINDING];
  const queue = env[QUEUE_BINDING];
  let cursor;
  let count = 0;
  do {
    const page = await journal.list({ prefix: PREFIX, cursor });
    for (const key of page.keys) {
      const entry = await journal.get(key.name, "json");
      if (entry === null) continue;
      // One message per send: a body may be up to 120,000 B, a sendBatch at most 256 KB.
      await queue.send(wrapped(key.name.slice(PREFIX.length), entry.body), { contentType: "text" });
      count += 1;
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  console.log(`[local-queue] ${count} queue message${count === 1 ? "" : "s"} kept from the previous run, sent again`);
}

export default class LocalRelay extends WorkerEntrypoint {
  async fetch(request) {
    await restoreOnce(this.env);
    return new Relay(this.ctx, localEnv(this.env)).fetch(request);
  }

  async queue(batch) {
    await restoreOnce(this.env);
    const journal = this.env[JOURNAL_BINDING];
    const acked = [];
    const messages = batch.messages.map((m) => {
      const { id, body } = unwrap(m.body);
      return {
        id: m.id,
        timestamp: m.timestamp,
        attempts: m.attempts,
        body,
        ack: () => {
          m.ack();
          if (id !== null) acked.push(id);
        },
        retry: (options) => m.retry(options),
      };
    });
    const local = {
      queue: batch.queue,
      messages,
      ackAll: () => messages.forEach((m) => m.ack()),
      retryAll: (options) => batch.retryAll(options),
    };
    try {
      return await new Relay(this.ctx, localEnv(this.env)).queue(local);
    } finally {
      await Promise.all(acked.map((id) => journal.delete(PREFIX + id)));
    }
  }
}
