use super::*;

const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn minimal() -> String {
    format!(
        r#"{{"token_sha256":"{HASH}","destinations":{{"main":{{"write_key":"wk_1234567890","region":"us"}}}}}}"#
    )
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let c = ConnectorConfig::from_json(&minimal()).unwrap();
    assert!(!c.paused);
    assert_eq!(c.fallback_destination(), Some("main"));
    assert_eq!(c.events, EventSelection::default());
    assert!(c.events.forward_unknown);
    assert_eq!(c.naming.profile, NamingProfile::Braze);
    assert!(!c.identity.include_anonymous);
    assert_eq!(c.message_id, MessageIdScope::Connector);
    assert_eq!(c.library.name, "currents-relay");
    assert_eq!(
        serde_json::to_string(&c.integrations).unwrap(),
        r#"{"Braze":false}"#
    );
    assert_eq!(c.retention_hours, 168);
}

#[test]
fn example_config_in_docs_parses() {
    let text = include_str!("../../docs/connector.example.json");
    let c = ConnectorConfig::from_json(text).unwrap();
    assert_eq!(c.destinations.len(), 2);
    assert_eq!(c.routing.as_ref().unwrap().by, RouteField::AppId);
}

#[test]
fn unknown_fields_are_rejected_with_their_path() {
    let text = minimal().replace(r#""region":"us""#, r#""region":"us","regoin":"eu""#);
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    assert_eq!(errs[0].field, "destinations.main.regoin");
    assert!(
        errs[0].message.contains("unknown field `regoin`"),
        "{errs:?}"
    );
}

#[test]
fn wrong_types_name_the_field() {
    let text = minimal().replace(r#""region":"us""#, r#""region":"mars""#);
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    assert_eq!(errs[0].field, "destinations.main.region");
    let text = minimal().replace(HASH, "nothex");
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    assert_eq!(errs[0].field, "token_sha256");
}

#[test]
fn validate_reports_every_problem() {
    let text = format!(
        r#"{{"token_sha256":"{HASH}",
        "destinations":{{"a":{{"write_key":"bad key:","region":"us"}},"b":{{"write_key":"k2345678","region":"eu"}}}},
        "default_destination":"zzz",
        "routing":{{"by":"app_id","routes":{{"app1":"nope"}}}},
        "naming":{{"overrides":{{"users.messages.email.Open":""}}}},
        "retention_hours":0}}"#
    );
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "destinations.a.write_key",
            "default_destination",
            "routing.routes.app1",
            "naming.overrides.users.messages.email.Open",
            "retention_hours"
        ]
    );
}

#[test]
fn several_destinations_need_a_default_or_routing() {
    let text = format!(
        r#"{{"token_sha256":"{HASH}","destinations":{{"a":{{"write_key":"k1234567","region":"us"}},"b":{{"write_key":"k2345678","region":"eu"}}}}}}"#
    );
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    assert_eq!(errs[0].field, "default_destination");
}

#[test]
fn empty_destinations_are_rejected() {
    let text = format!(r#"{{"token_sha256":"{HASH}","destinations":{{}}}}"#);
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    assert_eq!(errs[0].field, "destinations");
}

#[test]
fn debug_output_of_a_config_has_no_write_key() {
    let c = ConnectorConfig::from_json(&minimal()).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("wk_1234567890"), "{dbg}");
    assert!(dbg.contains("****7890"));
}

#[test]
fn round_trips_through_json() {
    let c = ConnectorConfig::from_json(include_str!("../../docs/connector.example.json")).unwrap();
    let back = ConnectorConfig::from_json(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(c, back);
}

#[test]
fn auto_region_resolves_to_the_nearest_or_us() {
    assert_eq!(RegionChoice::Auto.resolve(Some(Region::Eu)), Region::Eu);
    assert_eq!(RegionChoice::Auto.resolve(None), Region::Us);
    assert_eq!(RegionChoice::Us.resolve(Some(Region::Eu)), Region::Us);
}

#[test]
fn missing_fields_are_reported_at_their_own_path() {
    let errs = ConnectorConfig::from_json(r#"{"destinations":{}}"#).unwrap_err();
    assert_eq!(errs[0].field, "token_sha256");
    let text =
        format!(r#"{{"token_sha256":"{HASH}","destinations":{{"main":{{"region":"us"}}}}}}"#);
    let errs = ConnectorConfig::from_json(&text).unwrap_err();
    assert_eq!(errs[0].field, "destinations.main.write_key");
}

#[test]
fn description_is_capped() {
    let with = |d: &str| {
        minimal().replacen(
            '{',
            &format!("{{\"description\":{},", serde_json::json!(d)),
            1,
        )
    };
    assert!(ConnectorConfig::from_json(&with(&"d".repeat(MAX_DESCRIPTION_LEN))).is_ok());
    let errs =
        ConnectorConfig::from_json(&with(&"é".repeat(MAX_DESCRIPTION_LEN / 2 + 1))).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].field, "description");
    assert!(errs[0].message.contains("1024"), "{errs:?}");
    let huge = with(&"x".repeat(7 * 1024 * 1024));
    assert_eq!(
        ConnectorConfig::from_json(&huge).unwrap_err()[0].field,
        "description"
    );
}
