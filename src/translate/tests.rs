use serde_json::{Value, json};

use super::*;
use crate::config::ConnectorConfig;
use crate::currents::validate_event;

const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn config(extra: Value) -> ConnectorConfig {
    let mut doc = json!({
        "token_sha256": HASH,
        "destinations": {"main": {"write_key": "wk_main_0001", "region": "us"}}
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    ConnectorConfig::from_json(&doc.to_string()).unwrap()
}

fn run(event: &Value, config: &ConnectorConfig) -> Result<(String, Region, Value), FilterReason> {
    run_at(event, config, None)
}

fn run_at(
    event: &Value,
    config: &ConnectorConfig,
    nearest: Option<Region>,
) -> Result<(String, Region, Value), FilterReason> {
    let raw = RawValue::from_string(event.to_string()).unwrap();
    let ev = validate_event(&raw).expect("test events are valid");
    let ctx = TranslateContext::new("acme", nearest, config);
    let t = translate(&ev, config, &ctx)?;
    Ok((
        t.destination.to_owned(),
        t.region,
        serde_json::from_str(t.json.get()).unwrap(),
    ))
}

fn email_open() -> Value {
    json!({
        "event_type": "users.messages.email.Open", "id": "ev-1", "time": 1477502783,
        "user": {"user_id": "braze-1", "external_user_id": "cust-1", "device_id": "dev-1", "timezone": "Europe/Paris"},
        "properties": {"email_address": "a@example.com", "device_model": "Pixel", "campaign_id": "c1",
                       "os_version": "17", "brand_new_field": {"x": [1, 2]}}
    })
}

#[test]
fn known_event_follows_the_table() {
    let (_, _, out) = run(&email_open(), &config(json!({}))).unwrap();
    assert_eq!(out["type"], "track");
    assert_eq!(out["event"], "Email Opened");
    assert_eq!(out["userId"], "cust-1");
    assert_eq!(out["anonymousId"], "braze-1");
    assert_eq!(out["timestamp"], "2016-10-26T17:26:23.000Z");
    assert_eq!(out["context"]["traits"], json!({"email": "a@example.com"}));
    assert_eq!(out["context"]["device"], json!({"model": "Pixel"}));
    assert_eq!(out["context"]["library"]["name"], "currents-relay");
    assert_eq!(out["integrations"], json!({"Braze": false}));
    let props = out["properties"].as_object().unwrap();
    assert_eq!(props["campaign_id"], "c1");
    assert_eq!(props["device_id"], "dev-1");
    assert_eq!(
        props["brand_new_field"],
        json!({"x": [1, 2]}),
        "unknown properties pass through"
    );
    for gone in ["email_address", "device_model", "os_version", "timezone"] {
        assert!(!props.contains_key(gone), "{gone} must not be forwarded");
    }
    assert!(!out.to_string().contains("Europe/Paris"));
}

#[test]
fn absent_and_null_optionals_translate_identically() {
    let absent = json!({"event_type": "users.messages.email.Open", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u"}, "properties": {"campaign_id": "c"}});
    let nulls = json!({"event_type": "users.messages.email.Open", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u", "device_id": null, "timezone": null},
        "properties": {"campaign_id": "c", "email_address": null, "device_model": null, "canvas_id": null}});
    let cfg = config(json!({}));
    assert_eq!(run(&absent, &cfg).unwrap(), run(&nulls, &cfg).unwrap());
}

#[test]
fn inbound_sms_without_user_id_is_forwarded_by_external_id() {
    let ev = json!({"event_type": "users.messages.sms.InboundReceive", "id": "e", "time": 1,
        "user": {"external_user_id": "u"}, "properties": {"user_phone_number": "+15550100", "message_body": "STOP"}});
    let (_, _, out) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(out["userId"], "u");
    assert!(out.get("anonymousId").is_none());
    assert_eq!(out["context"]["traits"]["phone"], "+15550100");
    assert_eq!(out["properties"]["message_body"], "STOP");
}

#[test]
fn anonymous_policy_both_ways() {
    let mut ev = email_open();
    ev["user"] = json!({"user_id": "braze-1"});
    assert_eq!(
        run(&ev, &config(json!({}))).unwrap_err(),
        FilterReason::AnonymousUser
    );
    let (_, _, out) = run(
        &ev,
        &config(json!({"identity": {"include_anonymous": true}})),
    )
    .unwrap();
    assert_eq!(out["anonymousId"], "braze-1");
    assert!(out.get("userId").is_none());
    let nobody = json!({"event_type": "users.messages.sms.InboundReceive", "id": "e", "time": 1, "user": {}});
    let anon = config(json!({"identity": {"include_anonymous": true}}));
    assert_eq!(run(&nobody, &anon).unwrap_err(), FilterReason::NoIdentity);
}

#[test]
fn event_selection() {
    let only_clicks =
        config(json!({"events": {"include": ["users.messages.email.Click", "my.custom.Type"]}}));
    assert_eq!(
        run(&email_open(), &only_clicks).unwrap_err(),
        FilterReason::NotSelected
    );
    let mut click = email_open();
    click["event_type"] = json!("users.messages.email.Click");
    assert!(run(&click, &only_clicks).is_ok());
    let mut unknown = email_open();
    unknown["event_type"] = json!("users.messages.hologram.Send");
    assert!(
        run(&unknown, &only_clicks).is_ok(),
        "unknown types forward by default"
    );
    let strict =
        config(json!({"events": {"include": ["my.custom.Type"], "forward_unknown": false}}));
    assert_eq!(
        run(&unknown, &strict).unwrap_err(),
        FilterReason::UnknownType
    );
    unknown["event_type"] = json!("my.custom.Type");
    assert!(
        run(&unknown, &strict).is_ok(),
        "listed unknown types forward"
    );
}

#[test]
fn legacy_spelling_is_selected_by_its_canonical_name() {
    let ev = json!({"event_type": "users_campaigns_abort", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u"}, "properties": {"abort_type": "liquid"}});
    let cfg = config(json!({"events": {"include": ["users.campaigns.Abort"]}}));
    let (_, _, out) = run(&ev, &cfg).unwrap();
    assert_eq!(out["event"], "Campaign Aborted");
}

#[test]
fn naming_profiles_and_overrides() {
    let mut unsub = email_open();
    unsub["event_type"] = json!("users.messages.email.Unsubscribe");
    let name = |cfg: &ConnectorConfig, ev: &Value| run(ev, cfg).unwrap().2["event"].clone();
    assert_eq!(name(&config(json!({})), &unsub), "Unsubscribed");
    let catalog = config(json!({"naming": {"profile": "segment_catalog"}}));
    assert_eq!(name(&catalog, &unsub), "Email Unsubscribed");
    assert_eq!(name(&catalog, &email_open()), "Email Opened");
    let overridden = config(json!({"naming": {"profile": "segment_catalog",
        "overrides": {"users.messages.email.Unsubscribe": "Opted Out", "users.behaviors.Purchase": "Order Completed"}}}));
    assert_eq!(name(&overridden, &unsub), "Opted Out");
    let mut purchase = email_open();
    purchase["event_type"] = json!("users.behaviors.Purchase");
    assert_eq!(name(&overridden, &purchase), "Order Completed");
}

#[test]
fn custom_events_are_named_after_their_own_name() {
    let ev = json!({"event_type": "users.behaviors.CustomEvent", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u"},
        "properties": {"name": "Level \"Up\" 🎮", "custom_properties": {"level": 3},
                       "platform": "ios", "device_model": "iPhone"}});
    let (_, _, out) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(out["event"], "Level \"Up\" 🎮");
    assert_eq!(
        out["properties"]["name"], "Level \"Up\" 🎮",
        "name stays a property"
    );
    assert_eq!(out["properties"]["custom_properties"], json!({"level": 3}));
    assert_eq!(
        out["context"]["device"],
        json!({"model": "iPhone", "type": "ios"})
    );
    let fixed = config(json!({"naming": {"custom_event_names": false}}));
    assert_eq!(run(&ev, &fixed).unwrap().2["event"], "Custom Event");
    for blank in [json!(""), json!("  "), json!(7), Value::Null] {
        let mut unnamed = ev.clone();
        unnamed["properties"]["name"] = blank;
        let (_, _, out) = run(&unnamed, &config(json!({}))).unwrap();
        assert_eq!(out["event"], "Custom Event");
    }
    let overridden =
        config(json!({"naming": {"overrides": {"users.behaviors.CustomEvent": "Custom"}}}));
    assert_eq!(run(&ev, &overridden).unwrap().2["event"], "Custom");
}

#[test]
fn new_channels_keep_their_prefix_and_the_bare_name_is_an_override_away() {
    let mut ev = email_open();
    ev["event_type"] = json!("users.messages.rcs.Send");
    assert_eq!(run(&ev, &config(json!({}))).unwrap().2["event"], "RCS Sent");
    ev["event_type"] = json!("users.messages.line.Send");
    assert_eq!(
        run(&ev, &config(json!({}))).unwrap().2["event"],
        "LINE Sent"
    );
    let bare = config(json!({"naming": {"overrides": {"users.messages.line.Send": "Sent"}}}));
    assert_eq!(run(&ev, &bare).unwrap().2["event"], "Sent");
}

#[test]
fn unknown_type_forwards_raw_name_and_places_people_data_in_context() {
    let ev = json!({"event_type": "users.messages.hologram.Send", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u", "device_id": "d"},
        "properties": {"email_address": "a@b.c", "platform": "web", "x_api_id": "old", "os_version": "1",
                       "device_model": "Holo 1", "user_phone_number": "+15550001", "nested": {"a": null}}});
    let (_, _, out) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(out["event"], "users.messages.hologram.Send");
    assert_eq!(
        out["properties"],
        json!({"platform": "web", "nested": {"a": null}, "device_id": "d"})
    );
    assert_eq!(
        out["context"]["traits"],
        json!({"email": "a@b.c", "phone": "+15550001"})
    );
    assert_eq!(out["context"]["device"], json!({"model": "Holo 1"}));
}

#[test]
fn unknown_type_with_two_phone_numbers_keeps_the_second_as_a_property() {
    let ev = json!({"event_type": "users.messages.hologram.Send", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u"},
        "properties": {"to_phone_number": "+15550002", "user_phone_number": "+15550001"}});
    let (_, _, out) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(out["context"]["traits"], json!({"phone": "+15550002"}));
    assert_eq!(out["properties"], json!({"user_phone_number": "+15550001"}));
    let text = out.to_string();
    assert_eq!(
        text.matches("\"phone\"").count(),
        1,
        "no duplicate key: {text}"
    );
}

#[test]
fn routing_by_app_id_and_regions() {
    let cfg = config(json!({
        "destinations": {
            "main": {"write_key": "wk_main_0001", "region": "us"},
            "ios": {"write_key": "wk_ios_00002", "region": "eu"},
            "web": {"write_key": "wk_web_00003", "region": "auto"}
        },
        "default_destination": "main",
        "routing": {"by": "app_id", "routes": {"app-ios": "ios", "app-web": "web"}}
    }));
    let with_app = |app: &str| {
        let mut ev = email_open();
        ev["properties"]["app_id"] = json!(app);
        ev
    };
    let dest = |ev: &Value, near| {
        let (d, r, _) = run_at(ev, &cfg, near).unwrap();
        (d, r)
    };
    assert_eq!(dest(&with_app("app-ios"), None), ("ios".into(), Region::Eu));
    assert_eq!(dest(&with_app("other"), None), ("main".into(), Region::Us));
    assert_eq!(dest(&email_open(), None), ("main".into(), Region::Us));
    assert_eq!(
        dest(&with_app("app-web"), Some(Region::Eu)),
        ("web".into(), Region::Eu)
    );
    assert_eq!(dest(&with_app("app-web"), None), ("web".into(), Region::Us));
    let no_default = config(json!({
        "destinations": {"a": {"write_key": "wk_a_0000001", "region": "us"}, "b": {"write_key": "wk_b_0000001", "region": "us"}},
        "routing": {"by": "app_group_id", "routes": {"g1": "b"}}
    }));
    assert_eq!(
        run(&email_open(), &no_default).unwrap_err(),
        FilterReason::NoRoute
    );
    let mut grouped = email_open();
    grouped["properties"]["app_group_id"] = json!("g1");
    assert_eq!(run(&grouped, &no_default).unwrap().0, "b");
}

#[test]
fn renames_win_over_same_named_originals() {
    let ev = json!({"event_type": "users.messages.email.Click", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u"},
        "properties": {"url": "https://new.example/", "link_url": "stale", "link_id": "l1"}});
    let (_, _, out) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(
        out["properties"],
        json!({"link_url": "https://new.example/", "link_id": "l1"})
    );
}

#[test]
fn platform_moves_only_on_device_interaction_events() {
    let mut ev = email_open();
    ev["properties"] = json!({"platform": "ios", "device_model": "iPhone"});
    ev["event_type"] = json!("users.messages.pushnotification.Send");
    let (_, _, send) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(send["properties"]["platform"], "ios");
    assert_eq!(send["context"]["device"], json!({}));
    ev["event_type"] = json!("users.messages.pushnotification.Open");
    ev["properties"]["button_string"] = json!("OK");
    let (_, _, open) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(
        open["context"]["device"],
        json!({"type": "ios", "model": "iPhone"})
    );
    assert!(open["properties"].get("platform").is_none());
    assert!(open["properties"].get("button_string").is_none());
}

#[test]
fn message_id_is_scoped_to_the_connector() {
    let cfg = config(json!({}));
    let (_, _, a) = run(&email_open(), &cfg).unwrap();
    let (_, _, b) = run(&email_open(), &cfg).unwrap();
    assert_eq!(a["messageId"], b["messageId"]);
    let id = a["messageId"].as_str().unwrap();
    assert!(id.len() <= 100 && id.starts_with("crl-"));
    assert_eq!(
        id,
        crate::segment::message_id(crate::config::MessageIdScope::Connector, "acme", "ev-1")
    );
    let native = config(json!({"message_id": "event_id"}));
    assert_eq!(run(&email_open(), &native).unwrap().2["messageId"], "ev-1");
}

#[test]
fn library_and_integrations_are_configurable() {
    let cfg = config(json!({"library": {"name": "acme-relay", "version": "9"},
        "integrations": {"All": true, "Braze": false, "Amplitude": {"session_id": 1}}}));
    let (_, _, out) = run(&email_open(), &cfg).unwrap();
    assert_eq!(
        out["context"]["library"],
        json!({"name": "acme-relay", "version": "9"})
    );
    assert_eq!(out["integrations"]["Amplitude"], json!({"session_id": 1}));
}

#[test]
fn unicode_and_escapes_survive_verbatim() {
    let mut ev = email_open();
    ev["id"] = json!("ïd-☃");
    ev["user"]["external_user_id"] = json!("用户\n\"42\"");
    ev["properties"]["campaign_name"] = json!("Soldes d’été 🌞 \u{0007}");
    let (_, _, out) = run(&ev, &config(json!({}))).unwrap();
    assert_eq!(out["userId"], "用户\n\"42\"");
    assert_eq!(
        out["properties"]["campaign_name"],
        "Soldes d’été 🌞 \u{0007}"
    );
}

/// `event` (a JSON object without `properties`) with `properties` written from `members`, each
/// `(key text, value text)`, joined by `comma` and with `colon` between key and value.
fn with_properties(
    event: &Value,
    members: &[(String, String)],
    colon: &str,
    comma: &str,
) -> String {
    let object: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{k}{colon}{v}"))
        .collect();
    let head = event.to_string();
    format!(
        "{},\"properties\":{{{}}}}}",
        &head[..head.len() - 1],
        object.join(comma)
    )
}

/// The track call's text for an event given as text.
fn track_text(text: &str, config: &ConnectorConfig) -> String {
    let raw = RawValue::from_string(text.to_owned()).unwrap();
    let ev = validate_event(&raw).expect("test events are valid");
    let ctx = TranslateContext::new("acme", None, config);
    translate(&ev, config, &ctx).unwrap().json.get().to_owned()
}

fn click_head() -> Value {
    json!({"event_type": "users.messages.email.Click", "id": "e", "time": 1,
        "user": {"user_id": "b", "external_user_id": "u"}})
}

#[test]
fn properties_standing_as_written_are_copied_as_one_run() {
    let members: Vec<(String, String)> = [
        (r#""campaign_id""#, r#""c1""#),
        (r#""dispatch_id""#, "null"),
        (r#""link_id""#, r#"{"a":[1, 2],"b":"x\"y"}"#),
        (r#""url""#, r#""https://new.example/""#),
        (r#""link_url""#, r#""stale""#),
        (r#""fresh_field""#, "12.50"),
        (r#""fresh_field2""#, "true"),
        (r#""esc\u0061ped""#, "1"),
        (r#""device_model""#, r#""Pixel""#),
        (r#""late""#, "[]"),
        (r#""later""#, r#""é☃""#),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let cfg = config(json!({}));
    let compact = track_text(&with_properties(&click_head(), &members, ":", ","), &cfg);
    for (colon, comma) in [(": ", ","), (":", ", "), (" :", ",\n  ")] {
        let spaced = track_text(
            &with_properties(&click_head(), &members, colon, comma),
            &cfg,
        );
        assert_eq!(compact, spaced, "{colon:?} {comma:?}");
    }
    let out: Value = serde_json::from_str(&compact).unwrap();
    assert_eq!(
        out["properties"],
        json!({"campaign_id": "c1", "link_id": {"a": [1, 2], "b": "x\"y"},
            "link_url": "https://new.example/", "fresh_field": 12.50, "fresh_field2": true,
            "escaped": 1, "late": [], "later": "é☃"})
    );
    assert_eq!(out["context"]["device"], json!({"model": "Pixel"}));

    // The runs themselves: what stands as written is joined, the rest stays pairs.
    let text = with_properties(&click_head(), &members, ":", ",");
    let raw = RawValue::from_string(text).unwrap();
    let ev = validate_event(&raw).unwrap();
    let mut properties: Vec<Member<'_>> = ev
        .properties
        .0
        .iter()
        .filter(|(_, v)| v.get() != "null")
        .map(|(k, v)| Member::Pair(k.as_ref(), PropValue::Raw(*v)))
        .collect();
    coalesce(&mut properties, ev.source);
    let shape: Vec<String> = properties
        .iter()
        .map(|m| match m {
            Member::Run(text) => format!("run {text}"),
            Member::Pair(k, _) => format!("pair {k}"),
        })
        .collect();
    assert_eq!(
        shape,
        [
            r#"pair campaign_id"#,
            r#"run "link_id":{"a":[1, 2],"b":"x\"y"},"url":"https://new.example/","link_url":"stale","fresh_field":12.50,"fresh_field2":true"#,
            "pair escaped",
            r#"run "device_model":"Pixel","late":[],"later":"é☃""#,
        ]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// However the properties are spaced, escaped, repeated or nulled, the track call is the same
    /// text: runs copied as they stand (compact input) and pairs written one by one (spaced
    /// input, where nothing stands as written) agree.
    #[test]
    fn runs_write_what_pairs_write(
        members in proptest::collection::vec(
            (
                "[abu\"\\\\é_]{1,6}",
                proptest::sample::select(vec![
                    "1", "-0.5e3", "null", "true", r#""s""#, r#""q\"\\\u0041""#, "[]",
                    r#"{"k":[1,{"x":null}]}"#, r#""☃""#,
                ]),
                proptest::bool::ANY,
            ),
            0..12,
        ),
        event_type in proptest::sample::select(vec![
            "users.messages.email.Click", "users.messages.pushnotification.Open",
            "users.behaviors.CustomEvent", "brand.new.Type",
        ]),
    ) {
        let members: Vec<(String, String)> = members
            .into_iter()
            .map(|(key, value, escape)| {
                let mut key = serde_json::to_string(&key).unwrap();
                if escape {
                    key = key.replacen('a', r"\u0061", 1);
                }
                (key, value.to_owned())
            })
            .collect();
        let mut head = click_head();
        head["event_type"] = json!(event_type);
        let cfg = config(json!({"events": {"forward_unknown": true}}));
        let compact = track_text(&with_properties(&head, &members, ":", ","), &cfg);
        let spaced = track_text(&with_properties(&head, &members, " : ", " , "), &cfg);
        proptest::prop_assert_eq!(compact, spaced);
    }
}
