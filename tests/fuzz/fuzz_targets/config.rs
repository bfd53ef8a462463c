//! Arbitrary bytes as UTF-8 text into `ConnectorConfig::from_json`. An accepted config validates,
//! survives a serialise/parse round trip unchanged, and its admin view leaks no write key.
#![no_main]

use currents_relay::ConnectorConfig;
use currents_relay::config::admin::redacted_view;
use currents_relay::config::redact;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = ConnectorConfig::from_json(text) else {
        return;
    };
    assert_eq!(
        config.validate(),
        Ok(()),
        "from_json returned an invalid config"
    );

    // Round trip.
    let again_text = serde_json::to_string(&config).expect("a config serialises");
    let again = ConnectorConfig::from_json(&again_text)
        .unwrap_or_else(|e| panic!("own serialisation rejected: {e:?}\n{again_text}"));
    assert_eq!(again, config, "round trip changed the config\n{again_text}");

    // The admin view is the config minus the token hash and with each write key replaced by its
    // redacted form: nothing else differs, so no key can leak through another field.
    let view = redacted_view(&config);
    let mut expected: Value = serde_json::from_str(&again_text).unwrap();
    let mut got = view.clone();
    let obj = expected.as_object_mut().unwrap();
    assert!(obj.remove("token_sha256").is_some());
    obj.insert("has_token".into(), Value::Bool(true));
    for (name, dest) in &config.destinations {
        let key = dest.write_key.expose();
        let shown = got["destinations"][name]["write_key"].take();
        assert_eq!(shown.as_str(), Some(redact(key).as_str()), "view of {name}");
        assert!(shown.as_str().unwrap().starts_with("****"));
        if key.chars().count() > 8 {
            assert_ne!(
                shown.as_str(),
                Some(key),
                "write key of {name} shown in full"
            );
        }
        expected["destinations"][name]["write_key"].take();
    }
    assert_eq!(got, expected, "admin view differs beyond the write keys");
    // And textually: a key (long enough to be distinctive) appears in the view only where the
    // operator also wrote it elsewhere (a description, a name...).
    let view_text = view.to_string();
    let others = expected.to_string();
    for dest in config.destinations.values() {
        let key = dest.write_key.expose();
        if key.len() > 8 && !others.contains(key) {
            assert!(!view_text.contains(key), "write key in the admin view");
        }
    }
});
