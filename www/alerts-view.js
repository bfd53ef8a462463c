// "Alerts": the state of a connector's alert rules (GET admin/connectors/{id}/alerts,
// docs/ADMIN_API.md) as the scheduled handler last evaluated them: firing or not, since when,
// what it saw, and whether the webhook was told. The rules themselves are the `alerts` section
// of the connector's config.

import { el, when } from "./dom.js";

/** The rule in words, with its threshold (`{rule: code, threshold}`). */
export function ruleTitle({ rule, threshold }) {
  switch (rule) {
    case "delivery_stalled": return `Delivery stalled (no delivery for ${threshold} min while events wait)`;
    case "events_held": return `Events held longer than ${threshold} h`;
    case "quarantine_growth": return `Quarantine grew by more than ${threshold} events in an hour`;
    case "new_event_types": return "New event types from Braze";
    default: return String(rule ?? "unknown rule");
  }
}

function ruleRow(r) {
  const firing = Boolean(r.firing);
  const told = r.notified === firing
    ? (r.notified_ms ? `told ${when(r.notified_ms)}` : "nothing to tell")
    : "not told yet (retried at the next run)";
  return el("tr", { "data-alert-rule": r.rule ?? "", "data-firing": String(firing) },
    el("th", { scope: "row", text: ruleTitle(r) }),
    el("td", {}, el("span", { class: `badge ${firing ? "badge-error" : "badge-active"}`, text: firing ? "Firing" : "OK" })),
    el("td", { class: "small", "data-since": String(r.since_ms ?? ""), text: when(r.since_ms) }),
    el("td", { class: "small", text: r.detail ?? "" }),
    el("td", { class: "small", "data-told": told, text: told }));
}

/** Renders the alert state into `box`; `configured` says whether the config has an `alerts` section. Returns the rules shown. */
export function renderAlerts(box, state, configured) {
  const rules = state?.rules ?? [];
  if (!rules.length) {
    const text = configured
      ? "Alert rules are set; the scheduled check (every 5 minutes) has not evaluated them yet."
      : "No alert rules. Add an alerts section to the connector's config (webhook_url and the rules you want, docs/ADMIN_API.md).";
    box.replaceChildren(el("p", { class: "muted", "data-alerts-empty": "", text }));
    return 0;
  }
  box.replaceChildren(
    el("table", { class: "data-table alerts-table" },
      el("thead", {}, el("tr", {}, ...["Rule", "State", "Since", "What was seen", "Webhook"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rules.map(ruleRow))),
    el("p", { class: "muted small", text: `Last evaluated ${when(state.evaluated_ms)}.` }));
  return rules.length;
}
