// A connector's stats (GET admin/connectors/{id}/stats): the counters, and the hourly `series` as an
// inline SVG bar chart (received / delivered / quarantined per hour; no chart library), with the
// same numbers in a table for screen readers and for anyone who wants the exact values.

import { el, when } from "./dom.js";

const HOUR_MS = 3_600_000;
const SVG = "http://www.w3.org/2000/svg";
/** The three series of the chart, with colours that keep 3:1 contrast against white. */
export const SERIES = [
  ["received", "Received", "#3f5fa8"],
  ["delivered", "Delivered", "#1e7b34"],
  ["quarantined", "Quarantined", "#b3261e"],
];

const sum = (obj) => Object.values(obj ?? {}).reduce((a, b) => a + Number(b || 0), 0);

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Contiguous hourly buckets over the last `hours` hours ending at the newest bucket (or now). */
export function hourlyBuckets(series, hours, nowMs = Date.now()) {
  const keys = Object.keys(series ?? {}).map(Number).filter(Number.isFinite);
  const end = Math.max(nowMs - (nowMs % HOUR_MS), ...keys);
  const out = [];
  for (let t = end - (hours - 1) * HOUR_MS; t <= end; t += HOUR_MS) {
    const b = series?.[String(t)] ?? {};
    out.push({ t, received: b.received ?? 0, delivered: b.delivered ?? 0, quarantined: b.quarantined ?? 0, filtered: b.filtered ?? 0 });
  }
  return out;
}

const hourLabel = (t) => new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
const dayLabel = (t) => new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric" });

/** A "nice" axis maximum (1, 2, 5 × 10^n) at or above `max`. */
function niceMax(max) {
  if (max <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= max);
}

/** The SVG chart of `buckets` (from hourlyBuckets). */
export function chart(buckets) {
  const W = 720, H = 220, left = 48, right = 8, top = 10, bottom = 34;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = niceMax(Math.max(0, ...buckets.flatMap((b) => SERIES.map(([k]) => b[k]))));
  const totals = Object.fromEntries(SERIES.map(([k]) => [k, buckets.reduce((a, b) => a + b[k], 0)]));
  const label = `Events per hour, ${dayLabel(buckets[0].t)} ${hourLabel(buckets[0].t)} to ${hourLabel(buckets.at(-1).t + HOUR_MS)}: `
    + SERIES.map(([k, name]) => `${name.toLowerCase()} ${totals[k]}`).join(", ");
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart", "data-max": max });
  root.append(svg("title", {}, label));
  const y = (v) => top + plotH - (v / max) * plotH;
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    root.append(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: i ? "grid" : "axis" }));
    root.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  const slot = plotW / buckets.length;
  const barW = Math.max(1, (slot * 0.8) / SERIES.length);
  const every = Math.ceil(buckets.length / 8);
  buckets.forEach((b, i) => {
    const x0 = left + i * slot + slot * 0.1;
    SERIES.forEach(([k, name, colour], j) => {
      if (!b[k]) return;
      const rect = svg("rect", {
        x: x0 + j * barW, y: y(b[k]), width: barW, height: top + plotH - y(b[k]), fill: colour,
        "data-series": k, "data-hour": b.t, "data-value": b[k],
      });
      rect.append(svg("title", {}, `${hourLabel(b.t)}: ${b[k]} ${name.toLowerCase()}`));
      root.append(rect);
    });
    if (i % every === 0) {
      const x = left + i * slot + slot / 2;
      root.append(svg("text", { x, y: H - bottom + 16, "text-anchor": "middle", class: "tick" }, hourLabel(b.t)));
      if (i === 0 || new Date(b.t).getHours() === 0) {
        root.append(svg("text", { x, y: H - bottom + 30, "text-anchor": "middle", class: "tick" }, dayLabel(b.t)));
      }
    }
  });
  return root;
}

function legend() {
  return el("ul", { class: "legend", "aria-hidden": "true" },
    SERIES.map(([, name, colour]) => el("li", {}, el("span", { class: "swatch", style: `background:${colour}` }), name)));
}

function table(buckets) {
  const rows = buckets.filter((b) => b.received || b.delivered || b.quarantined || b.filtered);
  return el("details", { class: "chart-table" },
    el("summary", { text: "The numbers per hour" }),
    rows.length
      ? el("table", {},
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Hour starting" }),
          ...["Received", "Delivered", "Filtered", "Quarantined"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows.map((b) => el("tr", { "data-hour": b.t },
          el("th", { scope: "row", text: `${dayLabel(b.t)} ${hourLabel(b.t)}` }),
          ...["received", "delivered", "filtered", "quarantined"].map((k) => el("td", { text: String(b[k]) }))))))
      : el("p", { class: "muted", text: "No events in this period." }));
}

function counter(key, label, value, detail) {
  return el("div", { class: `counter counter-${key}` },
    el("dt", { text: label }),
    el("dd", {}, el("strong", { "data-stat": key, text: Number(value ?? 0).toLocaleString("en-US").replace(/,/g, "\u2009") }),
      detail ? el("span", { class: "counter-detail", text: detail }) : null));
}

const byReason = (obj) => Object.entries(obj ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");

/** The counters and the last success / last error lines. */
export function counters(stats) {
  const filtered = sum(stats.filtered), quarantined = sum(stats.quarantined), held = sum(stats.held);
  const lastError = stats.last_error
    ? `${stats.last_error.code}${stats.last_error.status ? ` (HTTP ${stats.last_error.status})` : ""} at ${when(stats.last_error.at_ms)}`
    : "none";
  return el("div", {},
    el("dl", { class: "counters" },
      counter("received", "Received", stats.received),
      counter("accepted", "Accepted", stats.accepted),
      counter("delivered", "Delivered", stats.delivered),
      counter("filtered", "Filtered", filtered, byReason(stats.filtered)),
      counter("quarantined", "Quarantined", quarantined, byReason(stats.quarantined)),
      counter("held", "Held", held, byReason(stats.held)),
      counter("retried", "Retried", stats.retried),
      counter("split", "Split", stats.split ?? 0),
      counter("replayed", "Replayed", stats.replayed)),
    el("p", { class: "meta" }, "Last success: ", el("span", { "data-stat": "last_success", text: when(stats.last_success_ms) }),
      " · Last error: ", el("span", { "data-stat": "last_error", text: lastError })));
}

/** Renders the whole stats block into `box`. */
export function renderStats(box, stats, hours) {
  const buckets = hourlyBuckets(stats.series, hours);
  box.replaceChildren(counters(stats), el("figure", { class: "chart-figure" },
    el("figcaption", { text: `Events per hour, last ${hours} hours` }), legend(), chart(buckets)), table(buckets));
}
