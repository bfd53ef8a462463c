//! The backfill command on Avro files written here with `apache-avro`'s writer: every
//! Segment-shaped type of Braze's glossary, in every codec, gives exactly the Segment call the
//! Worker makes of the same event received live; bad input is named (file and record) and the
//! run goes on; the command's own rules (arguments, config, secrets). `--dry-run` throughout:
//! sending is tested against the local sink in `tests/backfill_e2e.rs`.

#[path = "backfill/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;

use apache_avro::types::Value as Avro;
use apache_avro::{Codec, Schema};
use serde_json::{Value, json};
use support::*;

/// Runs a dry run over `dir/export`; returns the printed lines, stderr and the status.
fn dry_run(dir: &std::path::Path, extra: &[&str]) -> (Vec<Value>, String, i32) {
    let config = config_file(dir);
    let mut args = vec![
        "backfill",
        "--dry-run",
        "--config",
        config.to_str().unwrap(),
        "--connector",
        CONNECTOR,
    ];
    args.extend_from_slice(extra);
    args.push("export");
    let out = run(dir, &args);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        !stdout.contains(WRITE_KEY),
        "the write key is never printed"
    );
    let err = stderr(&out);
    assert!(!err.contains(WRITE_KEY), "the write key is never printed");
    (json_lines(&stdout), err, out.status.code().unwrap())
}

#[test]
fn every_type_in_every_codec_is_translated_as_the_worker_translates_it_live() {
    let dir = temp_dir("equal");
    let entries = glossary();
    assert_eq!(entries.len(), 80);
    // (file, record) → the Worker's call for the same event received live (`None`: the Worker
    // filters it, e.g. no identity at all in a sparse record).
    let mut expected: BTreeMap<(String, u64), Option<Value>> = BTreeMap::new();
    let mut n = 0;
    for entry in &entries {
        let schema = schema(entry);
        for (codec_name, codec) in codecs() {
            n += 1;
            let path = braze_path(&dir.join("export"), &entry.event_type, "2026-11-30-10", n);
            let mut records = Vec::new();
            for (i, sparse) in [false, true].into_iter().enumerate() {
                let id = format!("{}-{codec_name}-{i}", entry.event_type);
                let (avro, event) = record(entry, &id, sparse);
                records.push(avro);
                let key = (path.canonicalize_parent(), i as u64);
                expected.insert(key, live(&event));
            }
            write_avro(&path, &schema, records, codec, 1);
        }
    }
    let sent = expected.values().filter(|c| c.is_some()).count();
    let filtered = expected.len() - sent;
    assert!(
        sent > 400 && filtered > 0,
        "{sent} sent live, {filtered} filtered"
    );
    let (lines, err, status) = dry_run(&dir, &["--summary-json", "summary.json"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(lines.len(), sent, "{err}");
    let mut seen = 0;
    for line in &lines {
        let key = (
            line["file"].as_str().unwrap().to_owned(),
            line["record"].as_u64().unwrap(),
        );
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected {key:?}"))
            .as_ref()
            .unwrap_or_else(|| panic!("{key:?} is filtered live, printed here"));
        assert_eq!(&line["call"], want, "{key:?}");
        assert_eq!(
            (&line["destination"], &line["region"]),
            (&json!("main"), &json!("us"))
        );
        seen += 1;
    }
    assert_eq!(seen, sent);
    let ids: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|l| l["call"]["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), sent, "one messageId per event");
    let summary: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["events"]["read"], 480);
    assert_eq!(summary["events"]["sent"], sent);
    let counted: u64 = summary["events"]["filtered"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(counted as usize, filtered, "{summary}");
    assert_eq!(summary["events"]["quarantined"], json!({}));
}

/// The canonical path of a file that exists only once written: its folder is canonicalised
/// after creating it.
trait CanonicalParent {
    fn canonicalize_parent(&self) -> String;
}

impl CanonicalParent for std::path::PathBuf {
    fn canonicalize_parent(&self) -> String {
        let parent = self.parent().unwrap();
        fs::create_dir_all(parent).unwrap();
        parent
            .canonicalize()
            .unwrap()
            .join(self.file_name().unwrap())
            .to_string_lossy()
            .into_owned()
    }
}

fn entry(event_type: &str) -> Entry {
    glossary()
        .into_iter()
        .find(|e| e.event_type == event_type)
        .unwrap()
}

fn records(entry: &Entry, prefix: &str, n: usize) -> Vec<Avro> {
    (0..n)
        .map(|i| record(entry, &format!("{prefix}-{i}"), false).0)
        .collect()
}

fn set_field(record: &mut Avro, field: &str, value: Avro) {
    let Avro::Record(fields) = record else {
        panic!()
    };
    fields.iter_mut().find(|(n, _)| n == field).unwrap().1 = value;
}

#[test]
fn bad_input_is_named_by_file_and_record_and_the_run_goes_on() {
    let dir = temp_dir("bad");
    let export = dir.join("export");
    let open = entry("users.messages.email.Open");
    let send = entry("users.messages.email.Send");
    // A: three good records but one with a negative time (validation quarantines it).
    let a = braze_path(&export, &open.event_type, "2026-11-30-10", 1);
    let mut recs = records(&open, "a", 3);
    set_field(&mut recs[1], "time", Avro::Int(-5));
    write_avro(
        &a,
        &schema(&open),
        recs,
        Codec::Deflate(Default::default()),
        100,
    );
    // B: 30 records in blocks of 10, cut in the middle of the third block.
    let b = braze_path(&export, &send.event_type, "2026-11-30-10", 2);
    write_avro(&b, &schema(&send), records(&send, "b", 30), Codec::Null, 10);
    let bytes = fs::read(&b).unwrap();
    fs::write(&b, &bytes[..bytes.len() - 200]).unwrap();
    // C: not Avro at all.
    let c = export.join("event_type=users.messages.email.Bounce/date=2026-11-30-10/c.avro");
    fs::create_dir_all(c.parent().unwrap()).unwrap();
    fs::write(&c, "this is not an avro file\n").unwrap();
    // D: Avro, but records of another schema.
    let d = export.join("event_type=users.messages.email.Click/date=2026-11-30-10/d.avro");
    let other = Schema::parse_str(
        r#"{"type":"record","name":"Score","fields":[{"name":"name","type":"string"},{"name":"score","type":"double"}]}"#,
    )
    .unwrap();
    let rec = Avro::Record(vec![
        ("name".into(), Avro::String("x".into())),
        ("score".into(), Avro::Double(1.5)),
    ]);
    write_avro(&d, &other, vec![rec], Codec::Snappy, 10);
    // E: a type Braze's table does not know: translated as the Worker does (its own name).
    let mut brand_new = open.clone();
    brand_new.event_type = "users.behaviors.BrandNew".into();
    let e = braze_path(&export, &brand_new.event_type, "2026-11-30-10", 3);
    write_avro(
        &e,
        &schema(&brand_new),
        records(&brand_new, "e", 2),
        Codec::Null,
        10,
    );
    // F: no event type anywhere (no event_type= folder, no event_type field).
    let f = export.join("loose/f.avro");
    write_avro(&f, &schema(&open), records(&open, "f", 1), Codec::Null, 10);
    // G: a field holding Avro bytes, which has no JSON form.
    let g = braze_path(&export, &open.event_type, "2026-11-30-11", 4);
    let mut with_bytes = open.clone();
    with_bytes
        .fields
        .push(("blob".into(), "required bytes".into()));
    let schema_g = Schema::parse_str(
        &serde_json::to_string(&{
            let mut s: Value = serde_json::from_str(&schema(&open).canonical_form()).unwrap();
            s["fields"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "blob", "type": "bytes"}));
            s
        })
        .unwrap(),
    )
    .unwrap();
    let mut rec = records(&open, "g", 2);
    for r in &mut rec {
        let Avro::Record(fields) = r else { panic!() };
        fields.push(("blob".into(), Avro::Bytes(vec![0, 159, 146, 150])));
    }
    write_avro(&g, &schema_g, rec, Codec::Null, 10);
    // H: a custom event whose properties are not JSON, between two good ones.
    let custom = entry("users.behaviors.CustomEvent");
    let h = braze_path(&export, &custom.event_type, "2026-11-30-11", 5);
    let mut rec = records(&custom, "h", 3);
    let Avro::Record(fields) = &mut rec[1] else {
        panic!()
    };
    match &mut fields
        .iter_mut()
        .find(|(n, _)| n == "properties")
        .unwrap()
        .1
    {
        Avro::Union(_, value) => **value = Avro::String("{oops".into()),
        value => *value = Avro::String("{oops".into()),
    }
    write_avro(&h, &schema(&custom), rec, Codec::Null, 10);

    let (lines, err, status) = dry_run(&dir, &["--quarantine", "q.jsonl"]);
    assert_eq!(status, 3, "unreadable files: incomplete\n{err}");
    let path = |p: &std::path::Path| p.canonicalize().unwrap().to_string_lossy().into_owned();
    let printed: BTreeMap<String, Vec<u64>> = lines.iter().fold(BTreeMap::new(), |mut m, l| {
        m.entry(l["file"].as_str().unwrap().to_owned())
            .or_default()
            .push(l["record"].as_u64().unwrap());
        m
    });
    assert_eq!(printed[&path(&a)], vec![0, 2]);
    assert_eq!(
        printed[&path(&b)],
        (0..20).collect::<Vec<u64>>(),
        "the two whole blocks"
    );
    assert_eq!(printed[&path(&e)], vec![0, 1]);
    assert_eq!(printed[&path(&h)], vec![0, 2]);
    assert_eq!(printed.len(), 4, "{printed:?}");
    let brand_new_call = lines
        .iter()
        .find(|l| l["file"] == path(&e).as_str())
        .unwrap();
    assert_eq!(brand_new_call["call"]["event"], "users.behaviors.BrandNew");
    // Each problem is named on stderr with its file and record.
    for (file, needle) in [
        (&a, "record 1: quarantined invalid_time"),
        (&b, "record 20: unreadable_file"),
        (
            &c,
            "record 0: unreadable_file: not a readable Avro object container file",
        ),
        (&d, "record 0: foreign_schema"),
        (
            &e,
            "record 0: event type \"users.behaviors.BrandNew\" is not in the table",
        ),
        (&f, "record 0: unknown_event_type"),
        (&g, "record 0: quarantined unsupported_value"),
    ] {
        let expected = format!("{}, {needle}", path(file));
        assert!(err.contains(&expected), "missing {expected:?} in\n{err}");
    }
    // The quarantine file holds every quarantined record with its reason and raw record.
    let q = json_lines(&fs::read_to_string(dir.join("q.jsonl")).unwrap());
    let reasons: Vec<(String, u64, String)> = q
        .iter()
        .map(|l| {
            (
                l["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                l["record"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
    for expected in [
        (name(&a), 1, "invalid_time"),
        (name(&b), 20, "unreadable_file"),
        (name(&c), 0, "unreadable_file"),
        (name(&d), 0, "foreign_schema"),
        (name(&f), 0, "unknown_event_type"),
        (name(&g), 0, "unsupported_value"),
        (name(&g), 1, "unsupported_value"),
        (name(&h), 1, "invalid_properties_json"),
    ] {
        let expected = (expected.0, expected.1, expected.2.to_owned());
        assert!(
            reasons.contains(&expected),
            "{expected:?} not in {reasons:?}"
        );
    }
    assert_eq!(q.len(), 8, "{reasons:?}");
    let invalid = q.iter().find(|l| l["reason"] == "invalid_time").unwrap();
    assert_eq!(invalid["raw"]["time"], -5, "the raw record is kept");
    assert_eq!(invalid["raw"]["id"], "a-1");
    assert_eq!(invalid["event_id"], "a-1");
    assert_eq!(
        invalid["event"]["time"], -5,
        "and the Currents event it became"
    );
    assert_eq!(invalid["event"]["event_type"], "users.messages.email.Open");
    let blob = q
        .iter()
        .find(|l| l["reason"] == "unsupported_value")
        .unwrap();
    assert!(
        blob["detail"].as_str().unwrap().contains("\"blob\""),
        "{blob}"
    );
    assert_eq!(blob["raw"]["id"], "g-0");
    assert!(err.contains("4 unreadable"), "{err}");
}

/// Sets an optional (union) field.
fn set_optional(record: &mut Avro, field: &str, value: Avro) {
    set_field(record, field, Avro::Union(1, Box::new(value)));
}

#[test]
fn hostile_values_arrive_as_the_worker_would_send_them() {
    let dir = temp_dir("hostile");
    let custom = entry("users.behaviors.CustomEvent");
    let path = braze_path(&dir.join("export"), &custom.event_type, "2026-11-30-10", 1);
    // A repeated key, deep nesting, a number beyond 64 bits, escapes of every kind, non-ASCII
    // keys, whitespace around the object.
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let props = format!(
        " \n{{\"a\":1,\"a\":2,\"deep\":{deep},\"big\":123456789012345678901234567890,\"esc\":\"\\u0000\\\"\\\\\\u2028/\",\"é\":\"ü\"}}\t"
    );
    let odd = "quote \" backslash \\ newline \n tab \t nul \u{0} separator \u{2028} crab 🦀";
    let mut records = Vec::new();
    let mut events = Vec::new();
    for (i, (external, name)) in [(odd, "signup"), ("u-2", odd)].into_iter().enumerate() {
        let (mut avro, mut event) = record(&custom, &format!("hostile-{i}"), false);
        set_field(&mut avro, "properties", Avro::String(props.clone()));
        set_optional(&mut avro, "external_user_id", Avro::String(external.into()));
        set_field(&mut avro, "name", Avro::String(name.into()));
        event["properties"]["custom_properties"] = serde_json::from_str(&props).unwrap();
        event["user"]["external_user_id"] = json!(external);
        event["properties"]["name"] = json!(name);
        records.push(avro);
        events.push(event);
    }
    // Over Segment's 32 KB once translated: quarantined by the translator, with its record.
    let (mut big, _) = record(&custom, "hostile-big", false);
    set_optional(&mut big, "device_model", Avro::String("x".repeat(40_000)));
    records.push(big);
    write_avro(&path, &schema(&custom), records, Codec::Snappy, 2);

    let (lines, err, status) = dry_run(&dir, &["--quarantine", "q.jsonl"]);
    assert_eq!(status, 1, "one event quarantined\n{err}");
    assert_eq!(lines.len(), 2, "{err}");
    for (line, event) in lines.iter().zip(&events) {
        let live = live(event).expect("the Worker forwards it");
        assert_eq!(line["call"], live);
    }
    assert_eq!(lines[0]["call"]["userId"], odd);
    assert_eq!(
        lines[1]["call"]["event"], odd,
        "the custom event's own name"
    );
    let q = json_lines(&fs::read_to_string(dir.join("q.jsonl")).unwrap());
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["reason"], "event_too_large");
    assert_eq!(q[0]["record"], 2);
    assert_eq!(q[0]["event_id"], "hostile-big");
    assert_eq!(q[0]["raw"]["device_model"].as_str().unwrap().len(), 40_000);
    assert_eq!(
        q[0]["event"]["id"], "hostile-big",
        "the Currents event, postable to the Worker"
    );
}

#[test]
fn selection_by_type_and_queue_hour() {
    let dir = temp_dir("select");
    let export = dir.join("export");
    let open = entry("users.messages.email.Open");
    let send = entry("users.messages.email.Send");
    for (i, (e, hour)) in [
        (&open, "2026-11-30-09"),
        (&open, "2026-11-30-10"),
        (&open, "2026-11-30-11"),
        (&send, "2026-11-30-10"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = braze_path(&export, &e.event_type, hour, i as u32);
        write_avro(
            &path,
            &schema(e),
            records(e, &format!("{hour}-{i}"), 2),
            Codec::Null,
            10,
        );
    }
    // A file without a `date=` folder: its records are selected one by one, by their own
    // `time` (10:15 and 11:15 outside the window, 10:45 inside) and type.
    let mut loose = records(&open, "loose", 5);
    for (r, time) in loose
        .iter_mut()
        .zip([1_796_033_700, 1_796_035_500, 1_796_037_300])
    {
        set_field(r, "time", Avro::Int(time));
    }
    for r in &mut loose[3..] {
        set_field(r, "time", Avro::Int(1_796_035_500));
    }
    write_avro(
        &export.join("loose/event_type=users.messages.email.Open/opens.avro"),
        &schema(&open),
        loose,
        Codec::Null,
        10,
    );
    let (lines, err, status) = dry_run(
        &dir,
        &[
            "--types",
            "users.messages.email.Open",
            "--since",
            "2026-11-30T10:30Z",
            "--until",
            "2026-11-30-11",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| {
            l["call"]["properties"]["dispatch_id"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        lines.len(),
        5,
        "the 10:00 hour of opens, and the loose file's records 1, 3 and 4: {ids:?}\n{err}"
    );
    assert!(lines.iter().all(|l| l["call"]["event"] == "Email Opened"));
    let loose: Vec<u64> = lines
        .iter()
        .filter(|l| l["file"].as_str().unwrap().ends_with("opens.avro"))
        .map(|l| l["record"].as_u64().unwrap())
        .collect();
    assert_eq!(loose, [1, 3, 4], "{err}");
    assert!(
        err.contains("3 skipped by --types/--since/--until"),
        "{err}"
    );
    assert!(err.contains("filtered: 2 (outside_window 2)"), "{err}");
}

#[test]
fn arguments_config_and_secrets() {
    let dir = temp_dir("args");
    let help = run(&dir, &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--checkpoint FILE"));
    let bad = run(&dir, &["backfill", "--connector", "x", "export"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("--config FILE is required"),
        "{}",
        stderr(&bad)
    );
    // A config error names the field and never the write key.
    let config = dir.join("bad.json");
    fs::write(
        &config,
        json!({"token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
               "destinations": {"main": {"write_key": "has space secret", "region": "us"}}})
        .to_string(),
    )
    .unwrap();
    fs::create_dir_all(dir.join("export")).unwrap();
    let out = run(
        &dir,
        &[
            "backfill",
            "--config",
            "bad.json",
            "--connector",
            "x",
            "export",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("destinations.main.write_key"), "{err}");
    assert!(!err.contains("has space secret"), "{err}");
    // A paused connector is not backfilled (a dry run is fine).
    let mut paused: Value = serde_json::from_str(&config_text()).unwrap();
    paused["paused"] = json!(true);
    fs::write(dir.join("paused.json"), paused.to_string()).unwrap();
    let out = run(
        &dir,
        &[
            "backfill",
            "--config",
            "paused.json",
            "--connector",
            "x",
            "export",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    let out = run(
        &dir,
        &[
            "backfill",
            "--dry-run",
            "--config",
            "paused.json",
            "--connector",
            "x",
            "export",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A missing input is named.
    config_file(&dir);
    let out = run(
        &dir,
        &[
            "backfill",
            "--config",
            "connector.json",
            "--connector",
            "x",
            "nowhere",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nowhere"), "{}", stderr(&out));
}
