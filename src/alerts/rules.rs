//! The `alerts` section of a connector's config: where alerts go and which rules apply.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, WebhookUrl};

/// Longest `delivery_stalled_minutes`: a week.
pub const MAX_STALLED_MINUTES: u32 = 7 * 24 * 60;
/// Longest `held_hours`: a year.
pub const MAX_HELD_HOURS: u32 = 365 * 24;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A connector's alert rules, each optional, and the webhook they are posted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRules {
    /// Where alerts are posted (a secret, like a write key).
    pub webhook_url: WebhookUrl,
    /// Fire when events are pending and none was delivered for this many minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_stalled_minutes: Option<u32>,
    /// Fire when the oldest pending event has waited this many hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_hours: Option<u32>,
    /// Fire when more than this many events went to quarantine within the last hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_per_hour: Option<u64>,
    /// Fire while the drift report lists event types the mapping table does not know.
    #[serde(default, skip_serializing_if = "is_false")]
    pub new_event_types: bool,
}

/// One rule and its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Events pending and no delivery for `minutes` (not while the connector is paused: that is
    /// [`Rule::EventsHeld`]'s to say).
    DeliveryStalled {
        /// Minutes without a delivery.
        minutes: u32,
    },
    /// The oldest pending event has waited `hours` (paused, missing write key, Segment down...).
    EventsHeld {
        /// Hours waited.
        hours: u32,
    },
    /// More than `per_hour` events quarantined within the last hour.
    QuarantineGrowth {
        /// Events per hour.
        per_hour: u64,
    },
    /// The drift report lists new event types (it clears when the report is emptied).
    NewEventTypes,
}

impl Rule {
    /// Stable code: the rule's key in the alert state, a metric label, a webhook field.
    pub fn code(self) -> &'static str {
        match self {
            Rule::DeliveryStalled { .. } => "delivery_stalled",
            Rule::EventsHeld { .. } => "events_held",
            Rule::QuarantineGrowth { .. } => "quarantine_growth",
            Rule::NewEventTypes => "new_event_types",
        }
    }

    /// The threshold, in the unit of the rule's config field (0 for [`Rule::NewEventTypes`]).
    pub fn threshold(self) -> u64 {
        match self {
            Rule::DeliveryStalled { minutes } => u64::from(minutes),
            Rule::EventsHeld { hours } => u64::from(hours),
            Rule::QuarantineGrowth { per_hour } => per_hour,
            Rule::NewEventTypes => 0,
        }
    }

    /// The rule in words, for alert messages.
    pub fn title(self) -> String {
        match self {
            Rule::DeliveryStalled { minutes } => {
                format!("delivery stalled (no delivery for {minutes} min)")
            }
            Rule::EventsHeld { hours } => format!("events held longer than {hours} h"),
            Rule::QuarantineGrowth { per_hour } => {
                format!("quarantine grew by more than {per_hour} events in an hour")
            }
            Rule::NewEventTypes => "new event types from Braze".to_owned(),
        }
    }
}

impl AlertRules {
    /// The rules that are set, in a fixed order.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        if let Some(minutes) = self.delivery_stalled_minutes {
            rules.push(Rule::DeliveryStalled { minutes });
        }
        if let Some(hours) = self.held_hours {
            rules.push(Rule::EventsHeld { hours });
        }
        if let Some(per_hour) = self.quarantine_per_hour {
            rules.push(Rule::QuarantineGrowth { per_hour });
        }
        if self.new_event_types {
            rules.push(Rule::NewEventTypes);
        }
        rules
    }

    /// Problems with the section, each at its field path (`alerts.…`).
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut errs = Vec::new();
        let mut at = |field: &str, message: &str| {
            errs.push(ConfigError {
                field: if field.is_empty() {
                    "alerts".to_owned()
                } else {
                    format!("alerts.{field}")
                },
                message: message.to_owned(),
            });
        };
        if let Some(problem) = self.webhook_url.problem() {
            at("webhook_url", problem);
        }
        if self
            .delivery_stalled_minutes
            .is_some_and(|m| !(1..=MAX_STALLED_MINUTES).contains(&m))
        {
            at("delivery_stalled_minutes", "must be between 1 and 10080");
        }
        if self
            .held_hours
            .is_some_and(|h| !(1..=MAX_HELD_HOURS).contains(&h))
        {
            at("held_hours", "must be between 1 and 8760");
        }
        if self.quarantine_per_hour == Some(0) {
            at("quarantine_per_hour", "must be at least 1");
        }
        if self.rules().is_empty() {
            at(
                "",
                "set at least one rule: delivery_stalled_minutes, held_hours, \
                 quarantine_per_hour or new_event_types",
            );
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> AlertRules {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rules_in_order_and_problems_by_field() {
        let r = rules(
            r#"{"webhook_url":"https://hooks.example.com/T/B/abcd1234","held_hours":4,
                "delivery_stalled_minutes":30,"new_event_types":true}"#,
        );
        assert_eq!(
            r.rules(),
            [
                Rule::DeliveryStalled { minutes: 30 },
                Rule::EventsHeld { hours: 4 },
                Rule::NewEventTypes
            ]
        );
        assert!(r.problems().is_empty());
        let bad = rules(
            r#"{"webhook_url":"http://hooks.example.com/x","held_hours":0,
                "delivery_stalled_minutes":20000,"quarantine_per_hour":0}"#,
        );
        let fields: Vec<String> = bad.problems().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "alerts.webhook_url",
                "alerts.delivery_stalled_minutes",
                "alerts.held_hours",
                "alerts.quarantine_per_hour"
            ]
        );
        let none = rules(r#"{"webhook_url":"https://hooks.example.com/x"}"#);
        assert_eq!(none.problems()[0].field, "alerts");
        assert!(
            serde_json::from_str::<AlertRules>(r#"{"webhook_url":"https://a.b/c","held":1}"#)
                .is_err()
        );
    }

    #[test]
    fn codes_and_thresholds() {
        let all = [
            Rule::DeliveryStalled { minutes: 30 },
            Rule::EventsHeld { hours: 4 },
            Rule::QuarantineGrowth { per_hour: 100 },
            Rule::NewEventTypes,
        ];
        let seen: Vec<(&str, u64)> = all.iter().map(|r| (r.code(), r.threshold())).collect();
        assert_eq!(
            seen,
            [
                ("delivery_stalled", 30),
                ("events_held", 4),
                ("quarantine_growth", 100),
                ("new_event_types", 0)
            ]
        );
    }
}
