//! What the admin API needs from the config model: a view safe to return (write keys shown as
//! their last four characters, no token hash), and updates in which write keys are write-only
//! (an update that leaves a key out, or sends back its redacted form, keeps the stored key).

use serde_json::Value;

use super::{ConfigError, ConnectorConfig, redact};

/// The config as the admin API returns it: `write_key` → `"****abcd"`, `token_sha256` removed
/// (it is not secret, but nobody needs it), `has_token` added.
pub fn redacted_view(config: &ConnectorConfig) -> Value {
    let mut doc = serde_json::to_value(config).expect("a config always serialises");
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("token_sha256");
        obj.insert("has_token".into(), Value::Bool(true));
        if let Some(dests) = obj.get_mut("destinations").and_then(Value::as_object_mut) {
            for (name, dest) in dests.iter_mut() {
                if let (Some(d), Some(src)) = (dest.as_object_mut(), config.destinations.get(name))
                {
                    d.insert(
                        "write_key".into(),
                        Value::String(redact(src.write_key.expose())),
                    );
                }
            }
        }
        if let (Some(alerts), Some(rules)) = (
            obj.get_mut("alerts").and_then(Value::as_object_mut),
            &config.alerts,
        ) {
            let shown = redact(rules.webhook_url.expose());
            alerts.insert("webhook_url".into(), Value::String(shown));
        }
    }
    doc
}

/// Whether a submitted write key is a redacted placeholder rather than a new key.
fn is_placeholder(value: &Value) -> bool {
    value.as_str().is_none_or(|s| s.starts_with("****"))
}

/// Applies a full replacement document from the admin API to an existing config (or to none,
/// for a create). The token hash is kept (rotation has its own route); a destination whose
/// `write_key` is absent, null or redacted keeps its stored key. Errors name the field.
pub fn apply_update(
    existing: Option<&ConnectorConfig>,
    mut update: Value,
) -> Result<ConnectorConfig, Vec<ConfigError>> {
    let Some(obj) = update.as_object_mut() else {
        return Err(vec![ConfigError::at(
            ".",
            "the connector must be a JSON object",
        )]);
    };
    obj.remove("has_token");
    // The generation is the connector's identity: an update never sets or changes it.
    obj.remove("generation");
    match existing {
        Some(old) => {
            obj.insert(
                "token_sha256".into(),
                Value::String(old.token_sha256.to_hex()),
            );
            if let Some(g) = &old.generation {
                obj.insert("generation".into(), Value::String(g.clone()));
            }
        }
        None if !obj.contains_key("token_sha256") => {
            // A placeholder the caller replaces by rotating the token right after creation.
            obj.insert("token_sha256".into(), Value::String("0".repeat(64)));
        }
        None => {}
    }
    if let Some(dests) = obj.get_mut("destinations").and_then(Value::as_object_mut) {
        for (name, dest) in dests.iter_mut() {
            let Some(d) = dest.as_object_mut() else {
                continue;
            };
            let keep = d.get("write_key").is_none_or(is_placeholder);
            if !keep {
                continue;
            }
            match existing.and_then(|old| old.destinations.get(name)) {
                Some(old) => {
                    d.insert(
                        "write_key".into(),
                        Value::String(old.write_key.expose().to_owned()),
                    );
                }
                None => {
                    d.remove("write_key");
                    return Err(vec![ConfigError::at(
                        format!("destinations.{name}.write_key"),
                        "a new destination needs its write key",
                    )]);
                }
            }
        }
    }
    if let Some(alerts) = obj.get_mut("alerts").and_then(Value::as_object_mut)
        && alerts.get("webhook_url").is_none_or(is_placeholder)
    {
        match existing.and_then(|old| old.alerts.as_ref()) {
            Some(old) => {
                let url = old.webhook_url.expose().to_owned();
                alerts.insert("webhook_url".into(), Value::String(url));
            }
            None => {
                return Err(vec![ConfigError::at(
                    "alerts.webhook_url",
                    "alerts need a webhook URL",
                )]);
            }
        }
    }
    ConnectorConfig::from_json(&Value::Object(std::mem::take(obj)).to_string())
}

/// One destination of a connector list row: its name, region and redacted write key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DestinationSummary {
    /// The destination's name.
    pub name: String,
    /// Its Segment region.
    pub region: super::RegionChoice,
    /// The write key, redacted (`****` and its last 4 characters).
    pub write_key: String,
}

/// A small summary for connector lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectorSummary {
    /// Connector id.
    pub id: String,
    /// The operator's description (`null` when none).
    pub description: Option<String>,
    /// Whether delivery is paused.
    pub paused: bool,
    /// The destinations, in name order.
    pub destinations: Vec<DestinationSummary>,
}

/// The list summary of a connector (write keys redacted).
pub fn summary(id: &str, config: &ConnectorConfig) -> ConnectorSummary {
    ConnectorSummary {
        id: id.to_owned(),
        description: config.description.clone(),
        paused: config.paused,
        destinations: config
            .destinations
            .iter()
            .map(|(name, d)| DestinationSummary {
                name: name.clone(),
                region: d.region,
                write_key: d.write_key.redacted(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn existing() -> ConnectorConfig {
        ConnectorConfig::from_json(
            &json!({
                "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "destinations": {"main": {"write_key": "wk_live_secret_9876", "region": "us"}}
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn view_never_shows_a_write_key() {
        let view = redacted_view(&existing());
        let text = view.to_string();
        assert!(!text.contains("wk_live_secret"), "{text}");
        assert_eq!(view["destinations"]["main"]["write_key"], "****9876");
        assert!(view.get("token_sha256").is_none());
        assert_eq!(view["has_token"], true);
    }

    #[test]
    fn the_view_can_be_sent_back_unchanged() {
        let old = existing();
        let mut view = redacted_view(&old);
        view["paused"] = json!(true);
        let updated = apply_update(Some(&old), view).unwrap();
        assert!(updated.paused);
        assert_eq!(
            updated.destinations["main"].write_key,
            old.destinations["main"].write_key
        );
        assert_eq!(updated.token_sha256, old.token_sha256);
    }

    #[test]
    fn the_webhook_url_is_write_only_like_a_write_key() {
        let mut old = existing();
        let alerts = json!({"webhook_url": "https://hooks.example.com/T0/B0/hooksecret5678", "held_hours": 4});
        let mut view = redacted_view(&old);
        view["alerts"] = json!({"held_hours": 4});
        let errs = apply_update(Some(&old), view).unwrap_err();
        assert_eq!(
            errs[0].field, "alerts.webhook_url",
            "a first webhook needs its URL"
        );
        let mut view = redacted_view(&old);
        view["alerts"] = alerts;
        old = apply_update(Some(&old), view).unwrap();
        let view = redacted_view(&old);
        assert!(!view.to_string().contains("hooksecret"), "{view}");
        assert_eq!(view["alerts"]["webhook_url"], "****5678");
        let mut again = view.clone();
        again["alerts"]["held_hours"] = json!(6);
        let updated = apply_update(Some(&old), again).unwrap();
        let rules = updated.alerts.unwrap();
        assert_eq!(
            rules.webhook_url.expose(),
            "https://hooks.example.com/T0/B0/hooksecret5678"
        );
        assert_eq!(rules.held_hours, Some(6));
        let mut insecure = view;
        insecure["alerts"]["webhook_url"] = json!("http://hooks.example.com/x");
        let errs = apply_update(Some(&old), insecure).unwrap_err();
        assert_eq!(errs[0].field, "alerts.webhook_url");
    }

    #[test]
    fn a_new_write_key_replaces_the_old_one() {
        let old = existing();
        let update =
            json!({"destinations": {"main": {"write_key": "wk_new_key_1234", "region": "eu"}}});
        let updated = apply_update(Some(&old), update).unwrap();
        assert_eq!(
            updated.destinations["main"].write_key.expose(),
            "wk_new_key_1234"
        );
    }

    #[test]
    fn new_destinations_need_a_key_and_errors_name_fields() {
        let old = existing();
        let update = json!({"destinations": {"main": {"region": "us"}, "eu": {"region": "eu"}}});
        let errs = apply_update(Some(&old), update).unwrap_err();
        assert_eq!(errs[0].field, "destinations.eu.write_key");
        let errs = apply_update(
            Some(&old),
            json!({"destinations": {"main": {"region": "mars"}}}),
        )
        .unwrap_err();
        assert_eq!(errs[0].field, "destinations.main.region");
        assert_eq!(apply_update(None, json!([])).unwrap_err()[0].field, ".");
    }

    #[test]
    fn summaries_are_redacted() {
        let s = serde_json::to_value(summary("acme", &existing())).unwrap();
        assert_eq!(s["destinations"][0]["write_key"], "****9876");
        assert!(!s.to_string().contains("secret"));
    }
}
