//! The connector routes of the admin API, pure: request bodies, new bearer tokens (from random
//! bytes the shell provides), the JSON answers and the health summary of a connector list row.
//! The shell only reads and writes KV and the stats Durable Objects.

use base64::Engine as _;
use serde_json::Value;

use crate::config::admin::{ConnectorSummary, apply_update, redacted_view, summary};
use crate::config::{BearerToken, ConnectorConfig, is_valid_connector_id};
use crate::stats::{LastError, Stats};
use crate::web::Problem;

/// Random bytes in a new bearer token: 256 bits, as base64url (43 characters of Braze's token
/// alphabet, no padding).
pub const TOKEN_BYTES: usize = 32;
/// Most connectors whose health (a stats Durable Object call each) one list answer includes;
/// the rest are listed with `health: null`, keeping the request within subrequest limits.
pub const MAX_HEALTH_LOOKUPS: usize = 100;

/// A bearer token from [`TOKEN_BYTES`] random bytes (the shell's `crypto.getRandomValues`).
pub fn new_bearer_token(random: &[u8; TOKEN_BYTES]) -> BearerToken {
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    BearerToken::parse(&text).expect("base64url is within Braze's token alphabet")
}

/// A validated `POST /admin/connectors` request.
#[derive(Debug)]
pub struct CreateRequest {
    /// The new connector's id.
    pub id: String,
    /// Its config, with a placeholder token hash the caller replaces with the new token's.
    pub config: ConnectorConfig,
}

/// Parses `{"id", "config"}`: a bad shape or id is 400, a config that does not validate 422.
pub fn parse_create(body: &[u8]) -> Result<CreateRequest, Problem> {
    let shape = || Problem::InvalidAdminRequest {
        detail: "body must be {\"id\": ID, \"config\": {...}}".into(),
    };
    let mut body: Value = serde_json::from_slice(body).map_err(|_| shape())?;
    let obj = body.as_object_mut().ok_or_else(shape)?;
    if obj.len() != 2 {
        return Err(shape());
    }
    let (Some(Value::String(id)), Some(mut config)) = (obj.remove("id"), obj.remove("config"))
    else {
        return Err(shape());
    };
    if !is_valid_connector_id(&id) {
        return Err(Problem::InvalidAdminRequest {
            detail: "`id` must be 1-64 letters, digits, `_` or `-`".into(),
        });
    }
    if let Some(obj) = config.as_object_mut() {
        // The token is generated here, never chosen by the caller.
        obj.remove("token_sha256");
    }
    let config = apply_update(None, config).map_err(|errors| Problem::InvalidConfig { errors })?;
    Ok(CreateRequest { id, config })
}

/// Applies a `PUT /admin/connectors/{id}` body to the stored config (422 with field paths).
pub fn parse_update(existing: &ConnectorConfig, body: &[u8]) -> Result<ConnectorConfig, Problem> {
    let update: Value = serde_json::from_slice(body).map_err(|_| Problem::InvalidAdminRequest {
        detail: "body must be the connector's JSON document".into(),
    })?;
    apply_update(Some(existing), update).map_err(|errors| Problem::InvalidConfig { errors })
}

/// The stored form of a config: its JSON text (connector documents are KV string values).
pub fn stored_json(config: &ConnectorConfig) -> Result<String, Problem> {
    serde_json::to_string(config).map_err(|_| Problem::Internal)
}

/// The body of the answers about one connector (serialised in this order, no map in between).
#[derive(serde::Serialize)]
struct ConnectorAnswer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

impl ConnectorAnswer<'_> {
    fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `{"id", "config": <redacted view>}`.
pub fn connector_json(id: &str, config: &ConnectorConfig) -> String {
    ConnectorAnswer {
        id: Some(id),
        config: Some(redacted_view(config)),
        token: None,
    }
    .json()
}

/// `{"id", "config": <redacted view>, "token"}`: the only answer (with rotate) holding a token.
pub fn created_json(id: &str, config: &ConnectorConfig, token: &BearerToken) -> String {
    ConnectorAnswer {
        id: Some(id),
        config: Some(redacted_view(config)),
        token: Some(token.expose()),
    }
    .json()
}

/// `{"token"}`, after a rotation.
pub fn rotated_json(token: &BearerToken) -> String {
    ConnectorAnswer {
        id: None,
        config: None,
        token: Some(token.expose()),
    }
    .json()
}

/// A connector's delivery health for the list: totals, not per-reason maps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// Events delivered.
    pub delivered: u64,
    /// Events quarantined, all reasons.
    pub quarantined: u64,
    /// Events held, all reasons (once per hold).
    pub held: u64,
    /// Last successful delivery (UNIX ms), `null` when none.
    pub last_success_ms: Option<u64>,
    /// Last error, `null` when none.
    pub last_error: Option<LastError>,
}

/// The health totals of `stats`.
pub fn health(stats: &Stats) -> Health {
    Health {
        delivered: stats.delivered,
        quarantined: stats.quarantined.values().sum(),
        held: stats.held.values().sum(),
        last_success_ms: stats.last_success_ms,
        last_error: stats.last_error.clone(),
    }
}

/// What the admin API could read of a stored connector document.
#[derive(Debug, Clone, Copy)]
pub enum StoredConfig<'a> {
    /// It parses and validates.
    Valid(&'a ConnectorConfig),
    /// It does not parse or validate: an operator must fix or delete it.
    Invalid,
    /// KV could not be read just now (transient): nothing is known about the document.
    Unreadable,
}

/// One row of `GET /admin/connectors`: the summary, `misconfigured: true` when the stored
/// document does not parse or validate (so the operator sees it and can delete it),
/// `unavailable: true` when it could not be read just now, and the health (`null` when the
/// stats cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListRow {
    /// The connector's summary (empty but for the id unless the document is valid).
    #[serde(flatten)]
    pub summary: ConnectorSummary,
    /// Present (and `true`) only for a document that does not parse or validate.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub misconfigured: bool,
    /// Present (and `true`) only when the document could not be read (a KV error; retry).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
    /// Delivery totals.
    pub health: Option<Health>,
}

/// The row of connector `id`.
pub fn list_row(id: &str, stored: StoredConfig<'_>, health: Option<Health>) -> ListRow {
    let summary = match stored {
        StoredConfig::Valid(c) => summary(id, c),
        _ => ConnectorSummary {
            id: id.to_owned(),
            description: None,
            paused: false,
            destinations: Vec::new(),
        },
    };
    ListRow {
        summary,
        misconfigured: matches!(stored, StoredConfig::Invalid),
        unavailable: matches!(stored, StoredConfig::Unreadable),
        health,
    }
}

/// `{"connectors": [...]}`.
pub fn list_json(rows: &[ListRow]) -> String {
    #[derive(serde::Serialize)]
    struct List<'a> {
        connectors: &'a [ListRow],
    }
    serde_json::to_string(&List { connectors: rows }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenHash;
    use serde_json::json;

    const KEY: &str = "wk_live_secret_value_1234";

    fn config_body(id: &str) -> Vec<u8> {
        json!({"id": id, "config": {
            "description": "Acme",
            "destinations": {"main": {"write_key": KEY, "region": "us"}}
        }})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn tokens_are_base64url_of_32_bytes() {
        let t = new_bearer_token(&[0xfb; TOKEN_BYTES]);
        assert_eq!(t.expose().len(), 43);
        assert!(
            t.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(
            new_bearer_token(&[1; TOKEN_BYTES]).expose(),
            new_bearer_token(&[2; TOKEN_BYTES]).expose()
        );
    }

    #[test]
    fn create_parses_and_never_takes_a_callers_token_hash() {
        let req = parse_create(&config_body("acme-prod")).unwrap();
        assert_eq!(req.id, "acme-prod");
        assert_eq!(req.config.description.as_deref(), Some("Acme"));
        let chosen = json!({"id": "x", "config": {
            "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "destinations": {"main": {"write_key": KEY, "region": "us"}}
        }});
        let req = parse_create(chosen.to_string().as_bytes()).unwrap();
        let abc =
            TokenHash::from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap();
        assert_ne!(req.config.token_sha256, abc);
    }

    #[test]
    fn create_errors() {
        for bad in [&b"nope"[..], b"{}", br#"{"id":"a","config":{},"x":1}"#] {
            assert_eq!(
                parse_create(bad).unwrap_err().code(),
                "invalid_admin_request"
            );
        }
        assert_eq!(
            parse_create(&config_body("a/b")).unwrap_err().code(),
            "invalid_admin_request"
        );
        let bad = json!({"id": "acme", "config": {"retention_hours": 0,
            "destinations": {"main": {"write_key": KEY, "region": "mars"}}}});
        let Problem::InvalidConfig { errors } =
            parse_create(bad.to_string().as_bytes()).unwrap_err()
        else {
            panic!("expected invalid_config");
        };
        assert!(!errors.is_empty());
        assert!(errors.iter().all(|e| !e.field.is_empty()), "{errors:?}");
    }

    #[test]
    fn stored_json_round_trips_and_answers_hide_secrets() {
        let config = parse_create(&config_body("acme")).unwrap().config;
        let text = stored_json(&config).unwrap();
        assert_eq!(ConnectorConfig::from_json(&text).unwrap(), config);
        assert!(text.contains(KEY), "KV keeps the key itself");
        let token = new_bearer_token(&[7; TOKEN_BYTES]);
        for answer in [
            connector_json("acme", &config),
            created_json("acme", &config, &token),
            list_json(&[list_row("acme", StoredConfig::Valid(&config), None)]),
        ] {
            assert!(!answer.contains(KEY), "{answer}");
            assert!(!answer.contains("wk_live"), "{answer}");
            assert!(!answer.contains(&config.token_sha256.to_hex()), "{answer}");
        }
        let created: Value = serde_json::from_str(&created_json("acme", &config, &token)).unwrap();
        assert_eq!(created["token"], token.expose());
        assert_eq!(
            created["config"]["destinations"]["main"]["write_key"],
            "****1234"
        );
    }

    #[test]
    fn update_keeps_redacted_keys_and_reports_fields() {
        let config = parse_create(&config_body("acme")).unwrap().config;
        let mut view = redacted_view(&config);
        view["paused"] = json!(true);
        let updated = parse_update(&config, view.to_string().as_bytes()).unwrap();
        assert!(updated.paused);
        assert_eq!(updated.destinations["main"].write_key.expose(), KEY);
        assert_eq!(updated.token_sha256, config.token_sha256);
        view["retention_hours"] = json!(0);
        let err = parse_update(&config, view.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(parse_update(&config, b"[").unwrap_err().status(), 400);
    }

    #[test]
    fn health_sums_the_reason_maps() {
        let mut s = Stats {
            delivered: 5,
            last_success_ms: Some(9),
            ..Stats::default()
        };
        s.quarantined.insert("missing_id".into(), 2);
        s.quarantined.insert("bad_time".into(), 1);
        s.held.insert("paused".into(), 4);
        let h = health(&s);
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            json!({"delivered": 5, "quarantined": 3, "held": 4, "last_success_ms": 9, "last_error": null})
        );
        let row = serde_json::to_value(list_row("x", StoredConfig::Invalid, Some(h))).unwrap();
        assert_eq!(
            row,
            json!({"id": "x", "description": null, "paused": false, "destinations": [],
                   "misconfigured": true, "health": {"delivered": 5, "quarantined": 3, "held": 4,
                   "last_success_ms": 9, "last_error": null}})
        );
        let ok = parse_create(&config_body("acme")).unwrap().config;
        let row = serde_json::to_value(list_row("acme", StoredConfig::Valid(&ok), None)).unwrap();
        assert!(row.get("misconfigured").is_none(), "{row}");
        assert!(row.get("unavailable").is_none(), "{row}");
        assert_eq!(row["health"], Value::Null);
        let row = serde_json::to_value(list_row("y", StoredConfig::Unreadable, None)).unwrap();
        assert_eq!(
            row["unavailable"], true,
            "a KV error is not a misconfiguration"
        );
        assert!(row.get("misconfigured").is_none(), "{row}");
    }
}
