//! Rule evaluation, pure: given what a connector's stats object keeps (counters, drift report's
//! new types, previous alert state) and `now`, which rules fire, and which webhook messages are
//! due. A message is due when a rule's state differs from the one the webhook last took: once
//! when it starts firing, once when it clears, and again at the next evaluation only if the
//! webhook did not take it.

use serde::{Deserialize, Serialize};

use super::Rule;
use crate::stats::{LastError, Stats};
use crate::timefmt::iso_millis;

/// The quarantine rule's window.
pub const QUARANTINE_WINDOW_MS: u64 = 3_600_000;
/// Quarantine samples kept: one per evaluation over the window and a little more.
pub const MAX_QUARANTINE_SAMPLES: usize = 64;
/// Pending-ledger slots older than a connector's retention plus this are counts whose removal
/// was never recorded (a lost stats write), not events: they are forgotten, so they cannot keep
/// a rule firing. No queued event outlives its retention by that much (it is quarantined at its
/// next look, at most minutes after the retention ends; a day of R2 failing adds a day).
pub const PENDING_GRACE_MS: u64 = 48 * 3_600_000;

/// What the evaluation is told besides what the stats object keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCheck {
    /// The connector id (for the messages).
    pub connector: String,
    /// The rules set in its config.
    pub rules: Vec<Rule>,
    /// Whether the connector is paused.
    pub paused: bool,
    /// Its `retention_hours`.
    pub retention_hours: u32,
    /// Now, UNIX ms.
    pub now_ms: u64,
}

/// One rule's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleState {
    /// The rule's code ([`Rule::code`]).
    pub rule: String,
    /// Its threshold as last evaluated, in the unit of its config field (0 for
    /// `new_event_types`).
    pub threshold: u64,
    /// Whether its condition holds.
    pub firing: bool,
    /// Since when it holds (or has not held), UNIX ms.
    pub since_ms: u64,
    /// What the last evaluation saw.
    pub detail: String,
    /// The state the webhook last took (`true`: it was told the rule fires).
    pub notified: bool,
    /// When the webhook last took a message for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_ms: Option<u64>,
}

/// A connector's alert state, kept by its stats object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// The rules set, in the config's order.
    #[serde(default)]
    pub rules: Vec<RuleState>,
    /// `(at_ms, quarantined total)` at each evaluation within the quarantine window.
    #[serde(default)]
    pub quarantine_samples: Vec<(u64, u64)>,
    /// When the rules were last evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_ms: Option<u64>,
    /// Pending-ledger slots before this time were counts of lost stats writes, not events, at
    /// the last evaluation ([`PENDING_GRACE_MS`]): the stats object forgets them when it stores
    /// this state.
    #[serde(default)]
    pub pending_cutoff_ms: u64,
}

impl AlertState {
    /// The stored state, or an empty one when there is none or it does not parse.
    pub fn from_json(text: &str) -> AlertState {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The state of rule `code`.
    pub fn rule(&self, code: &str) -> Option<&RuleState> {
        self.rules.iter().find(|r| r.rule == code)
    }

    /// Whether rule `code` fires now.
    pub fn firing(&self, code: &str) -> bool {
        self.rule(code).is_some_and(|r| r.firing)
    }
}

/// A webhook message that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The rule.
    pub rule: Rule,
    /// `true`: it started firing; `false`: it cleared.
    pub firing: bool,
    /// The webhook body: `{"text", "connector", "rule", "state", "since"}` (Slack reads
    /// `text`, other receivers the fields).
    pub body: String,
}

/// The `GET /admin/connectors/{id}/alerts` body: each set rule's state, as last evaluated.
pub fn state_json(connector: &str, state: &AlertState) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        connector: &'a str,
        evaluated_ms: Option<u64>,
        rules: &'a [RuleState],
    }
    let view = View {
        connector,
        evaluated_ms: state.evaluated_ms,
        rules: &state.rules,
    };
    serde_json::to_string(&view).unwrap_or_default()
}

/// `1 event`, `3 events`.
fn events(n: u64) -> String {
    if n == 1 {
        "1 event".to_owned()
    } else {
        format!("{n} events")
    }
}

/// `1 d 3 h`, `5 h 2 min`, `35 min`, `40 s`.
fn duration(ms: u64) -> String {
    let (m, h, d) = (ms / 60_000, ms / 3_600_000, ms / 86_400_000);
    if d > 0 {
        format!("{d} d {} h", h % 24)
    } else if h > 0 {
        format!("{h} h {} min", m % 60)
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{} s", ms / 1000)
    }
}

fn last_error(e: Option<&LastError>) -> String {
    match e {
        Some(LastError {
            code,
            status: Some(s),
            ..
        }) => format!("; last error {code} (HTTP {s})"),
        Some(e) => format!("; last error {}", e.code),
        None => String::new(),
    }
}

/// What the evaluation reads.
struct Seen<'a> {
    check: &'a AlertCheck,
    stats: &'a Stats,
    new_types: &'a [String],
    quarantine_growth: u64,
}

/// Whether `rule` fires, and what was seen.
fn condition(rule: Rule, seen: &Seen<'_>) -> (bool, String) {
    let now = seen.check.now_ms;
    let stats = seen.stats;
    let pending = stats.pending_events();
    let oldest = stats.oldest_pending_ms();
    match rule {
        Rule::DeliveryStalled { minutes } => {
            if seen.check.paused {
                return (false, "paused: held events are the held rule's".to_owned());
            }
            let Some(oldest) = oldest else {
                return (false, "no event pending".to_owned());
            };
            let since = stats.last_success_ms.unwrap_or(0).max(oldest);
            let quiet = now.saturating_sub(since);
            let fires = quiet >= u64::from(minutes) * 60_000;
            let detail = format!(
                "{} pending, no delivery for {}{}",
                events(pending),
                duration(quiet),
                last_error(stats.last_error.as_ref())
            );
            (fires, detail)
        }
        Rule::EventsHeld { hours } => {
            let Some(oldest) = oldest else {
                return (false, "no event pending".to_owned());
            };
            let waited = now.saturating_sub(oldest);
            let why = if seen.check.paused {
                "; the connector is paused".to_owned()
            } else {
                last_error(stats.last_error.as_ref())
            };
            let detail = format!(
                "{} pending, the oldest for {}{why}",
                events(pending),
                duration(waited)
            );
            (waited >= u64::from(hours) * 3_600_000, detail)
        }
        Rule::QuarantineGrowth { per_hour } => {
            let n = seen.quarantine_growth;
            (
                n > per_hour,
                format!("{} quarantined in the last hour", events(n)),
            )
        }
        Rule::NewEventTypes => {
            let types = seen.new_types;
            let names: Vec<&str> = types.iter().take(5).map(String::as_str).collect();
            let more = types.len().saturating_sub(names.len());
            let mut detail = format!("{} new event types", types.len());
            if !names.is_empty() {
                detail.push_str(": ");
                detail.push_str(&names.join(", "));
            }
            if more > 0 {
                detail.push_str(&format!(" and {more} more"));
            }
            (!types.is_empty(), detail)
        }
    }
}

/// Records the quarantine total at `now` and returns how much it grew within the window.
fn quarantine_growth(state: &mut AlertState, total: u64, now: u64) -> u64 {
    let start = now.saturating_sub(QUARANTINE_WINDOW_MS);
    // The newest sample at or before the window's start is the baseline; older ones, and any
    // sample from before a gap in evaluations, go.
    let samples = &mut state.quarantine_samples;
    samples.retain(|(at, _)| *at + QUARANTINE_WINDOW_MS / 4 >= start && *at <= now);
    if let Some(last_before) = samples.iter().rposition(|(at, _)| *at <= start) {
        samples.drain(..last_before);
    }
    samples.push((now, total));
    if samples.len() > MAX_QUARANTINE_SAMPLES {
        let extra = samples.len() - MAX_QUARANTINE_SAMPLES;
        samples.drain(..extra);
    }
    let baseline = samples.first().map_or(total, |(_, n)| *n);
    total.saturating_sub(baseline)
}

/// The webhook body of `rule`'s new state: `{"text", "connector", "rule", "state", "since"}`
/// (Slack reads `text`, other receivers the fields).
fn notice_body(connector: &str, rule: Rule, state: &RuleState) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        text: String,
        connector: &'a str,
        rule: &'static str,
        state: &'static str,
        since: String,
    }
    let (word, resolved) = if state.firing {
        ("firing", "")
    } else {
        ("resolved", "resolved: ")
    };
    let text = format!(
        "[currents-relay] {connector}: {resolved}{}. {}.",
        rule.title(),
        state.detail
    );
    let body = Body {
        text,
        connector,
        rule: rule.code(),
        state: word,
        since: iso_millis(state.since_ms),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// Evaluates `check`'s rules against `stats` and the drift report's `new_types`: updates
/// `state` and returns the messages due. Pending-ledger slots past any queued event's life
/// ([`PENDING_GRACE_MS`] after the retention) are forgotten first, in `stats` (the stats object
/// is told the same: [`AlertState::pending_cutoff_ms`]). Rules no longer set are dropped without a message.
pub fn evaluate(
    check: &AlertCheck,
    stats: &mut Stats,
    new_types: &[String],
    state: &mut AlertState,
) -> Vec<Notice> {
    let now = check.now_ms;
    stats.forget_pending_before(forget_before(check));
    let growth = quarantine_growth(state, stats.quarantined_total(), now);
    let seen = Seen {
        check,
        stats,
        new_types,
        quarantine_growth: growth,
    };
    let mut rules = Vec::with_capacity(check.rules.len());
    let mut due = Vec::new();
    for rule in &check.rules {
        let (firing, detail) = condition(*rule, &seen);
        let previous = state.rule(rule.code());
        let mut s = previous.cloned().unwrap_or(RuleState {
            rule: rule.code().to_owned(),
            threshold: 0,
            firing,
            since_ms: now,
            detail: String::new(),
            notified: false,
            notified_ms: None,
        });
        if s.firing != firing {
            s.since_ms = now;
        }
        (s.threshold, s.firing, s.detail) = (rule.threshold(), firing, detail);
        if s.firing != s.notified {
            due.push(Notice {
                rule: *rule,
                firing,
                body: notice_body(&check.connector, *rule, &s),
            });
        }
        rules.push(s);
    }
    state.rules = rules;
    state.evaluated_ms = Some(now);
    state.pending_cutoff_ms = forget_before(check);
    due
}

/// Pending-ledger slots before this time are counts of lost stats writes, not events.
pub fn forget_before(check: &AlertCheck) -> u64 {
    let life = u64::from(check.retention_hours) * 3_600_000 + PENDING_GRACE_MS;
    check.now_ms.saturating_sub(life)
}

/// Records that the webhook took (`ok`) or refused the message of `notice`: a rule whose message
/// went through is notified of the state it told; a refused one is due again at the next
/// evaluation.
pub fn acknowledge(state: &mut AlertState, notice: &Notice, ok: bool, now_ms: u64) {
    if !ok {
        return;
    }
    if let Some(s) = state
        .rules
        .iter_mut()
        .find(|r| r.rule == notice.rule.code() && r.firing == notice.firing)
    {
        s.notified = notice.firing;
        s.notified_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests;
