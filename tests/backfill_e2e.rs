//! The backfill command end to end against the local Segment sink (`scripts/segment-sink.mjs`,
//! started with `node`, the one `npm start` and the Worker's end-to-end tests use), with faults:
//! every event arrives exactly once by `messageId` under 500/503/429/dropped connections and a
//! poisoned event (quarantined alone, the rest delivered); killed (SIGKILL) mid-run and run
//! again, nothing is lost; a wrong URL stops the run without settling anything.

#[path = "backfill/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use apache_avro::Codec;
use serde_json::{Value, json};
use support::*;

const CONTROL_TOKEN: &str = "backfill-e2e-control-token";

/// The sink, stopped when dropped.
struct Sink {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Sink {
    /// Starts the sink knowing the sources `keys` (name → write key).
    fn start(dir: &Path, keys: Value) -> Sink {
        let path = dir.join("sink-keys.json");
        fs::write(&path, keys.to_string()).unwrap();
        let keys = path;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/segment-sink.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .args(["--port", "0", "--quiet", "--keys-file"])
            .arg(&keys)
            .env("SINK_CONTROL_TOKEN", CONTROL_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs the local Segment sink (Node 20, as npm start needs)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_owned();
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        Sink { child, url, agent }
    }

    fn get(&self, path: &str) -> Value {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    }

    fn control(&self, method: &str, path: &str, body: Value) {
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {CONTROL_TOKEN}");
        let status = match method {
            "POST" => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send(body.to_string())
                .unwrap()
                .status(),
            _ => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call()
                .unwrap()
                .status(),
        };
        assert_eq!(status.as_u16(), 200, "{method} {path}");
    }

    /// messageId → times the sink accepted it.
    fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for e in self.get("/events").as_array().unwrap() {
            *counts
                .entry(e["messageId"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        counts
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `files` × `per_file` events of a few types; returns, by `messageId`, each event's id
/// and the call the Worker makes of it.
fn export(dir: &Path, files: u32, per_file: usize) -> BTreeMap<String, (String, Value)> {
    let types = [
        "users.messages.email.Send",
        "users.messages.email.Open",
        "users.messages.pushnotification.Send",
        "users.behaviors.CustomEvent",
    ];
    let glossary = glossary();
    let mut expected = BTreeMap::new();
    for n in 0..files {
        let entry = glossary
            .iter()
            .find(|e| e.event_type == types[n as usize % types.len()])
            .unwrap();
        let mut records = Vec::new();
        for i in 0..per_file {
            let id = format!("e2e-{n}-{i}");
            let (avro, event) = record(entry, &id, false);
            let call = live(&event).unwrap();
            expected.insert(call["messageId"].as_str().unwrap().to_owned(), (id, call));
            records.push(avro);
        }
        let hour = format!("2026-11-{:02}-{:02}", 1 + n / 24, n % 24);
        let path = braze_path(&dir.join("export"), &entry.event_type, &hour, n);
        let codec = [
            Codec::Null,
            Codec::Snappy,
            Codec::Deflate(Default::default()),
        ][n as usize % 3];
        write_avro(&path, &schema(entry), records, codec, 100);
    }
    expected
}

fn backfill_args<'a>(sink: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "backfill",
        "--config",
        "connector.json",
        "--connector",
        CONNECTOR,
        "--segment-url",
        sink,
        "--summary-json",
        "summary.json",
    ];
    args.extend_from_slice(extra);
    args.push("export");
    args
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

type Expected = BTreeMap<String, (String, Value)>;

fn setup(name: &str, files: u32, per_file: usize) -> (PathBuf, Sink, Expected) {
    let dir = temp_dir(name);
    config_file(&dir);
    let expected = export(&dir, files, per_file);
    let sink = Sink::start(&dir, json!({"main": WRITE_KEY}));
    (dir, sink, expected)
}

#[test]
fn under_faults_every_event_arrives_exactly_once_and_a_refused_one_is_quarantined() {
    let (dir, sink, expected) = setup("faults", 12, 400);
    // Segment refuses a whole batch for one event it cannot take: the sink does so for the
    // event whose JSON holds this messageId.
    let (poisoned_id, _) = expected
        .iter()
        .find(|(_, (id, _))| id == "e2e-5-123")
        .map(|(m, v)| (m.clone(), v.clone()))
        .unwrap();
    sink.control(
        "POST",
        "/faults",
        json!({"rate": 0.3, "modes": ["500", "503", "429", "drop"], "retryAfter": 1, "seed": 7,
               "poison": poisoned_id}),
    );
    let args = backfill_args(
        &sink.url,
        &["--rps", "0", "--concurrency", "4", "--max-attempts", "30"],
    );
    let out = run(&dir, &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "one event quarantined\n{err}");
    assert!(!err.contains(WRITE_KEY));
    // Every event once, except the one Segment refuses on its own.
    let counts = sink.counts();
    let want: BTreeSet<&String> = expected.keys().filter(|id| **id != poisoned_id).collect();
    assert_eq!(counts.keys().collect::<BTreeSet<_>>(), want);
    assert!(
        counts.values().all(|n| *n == 1),
        "duplicates reached the sink"
    );
    // What arrived is exactly the Worker's translation.
    for e in sink.get("/events").as_array().unwrap() {
        // The sink is JavaScript: it reads 9007199254740993 as a double. The dry-run tests
        // check that the number leaves the command exact; here it is left out.
        let without_big = |v: &Value| {
            let mut v = v.clone();
            if let Some(p) = v["properties"]["custom_properties"].as_object_mut() {
                p.remove("big");
            }
            v
        };
        let want = &expected[e["messageId"].as_str().unwrap()].1;
        assert_eq!(without_big(e), without_big(want));
    }
    let stats = sink.get("/stats");
    assert!(stats["fault_requests"].as_u64().unwrap() >= 3, "{stats}");
    assert!(
        stats["rejected"]["poisoned_event"].as_u64().unwrap() >= 2,
        "{stats}"
    );
    let s = summary(&dir);
    assert_eq!(s["events"]["sent"], expected.len() - 1);
    assert_eq!(s["events"]["quarantined"], json!({"segment_rejected": 1}));
    assert!(s["requests"]["retried"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["requests"]["split"].as_u64().unwrap() >= 2, "{s}");
    let q = json_lines(&fs::read_to_string(dir.join("backfill.quarantine.jsonl")).unwrap());
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["reason"], "segment_rejected");
    assert_eq!(q[0]["status"], 400);
    assert_eq!(
        q[0]["event"]["id"], "e2e-5-123",
        "the Currents event, ready to post again"
    );
    assert!(q[0].get("raw").is_none());
    assert_eq!(q[0]["record"], 123);
    assert!(q[0]["file"].as_str().unwrap().ends_with("+0+5.avro"));
    assert!(q[0]["detail"].as_str().unwrap().contains("poisoned_event"));
    // A second run finds everything settled and sends nothing.
    sink.control("DELETE", "/faults", Value::Null);
    let again = run(&dir, &args);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let s = summary(&dir);
    assert_eq!(s["files"]["already_complete"], 12, "{s}");
    assert_eq!(s["events"]["sent"], 0);
    assert_eq!(sink.counts().len(), want.len());
}

#[test]
fn killed_mid_run_and_run_again_nothing_is_lost() {
    let (dir, sink, expected) = setup("kill", 8, 500);
    // Slow enough to be killed halfway: one request per second.
    let slow = backfill_args(&sink.url, &["--rps", "1", "--concurrency", "2"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_currents-relay"))
        .current_dir(&dir)
        .args(&slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut waited = 0;
    loop {
        let accepted = sink.get("/stats")["accepted_events"].as_u64().unwrap();
        if accepted >= 1_200 && dir.join("backfill.checkpoint.json").exists() {
            break;
        }
        assert!(waited < 600, "the run made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it was killed"
        );
        sleep(Duration::from_millis(100));
        waited += 1;
    }
    child.kill().unwrap(); // SIGKILL: no chance to save anything more
    child.wait().unwrap();
    sleep(Duration::from_millis(500)); // a request already read by the sink is recorded
    let before = sink.counts();
    assert!(before.len() < expected.len(), "killed before the end");
    let checkpoint: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("backfill.checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(checkpoint["connector"], CONNECTOR);
    // Run again, full speed: it goes on from the checkpoint.
    let out = run(&dir, &backfill_args(&sink.url, &["--rps", "0"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let after = sink.counts();
    assert_eq!(
        after.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect::<BTreeSet<_>>(),
        "every event arrived"
    );
    let s = summary(&dir);
    let skipped = s["events"]["already_settled"].as_u64().unwrap();
    assert!(skipped > 0, "the second run resumed: {s}");
    assert_eq!(
        s["events"]["sent"].as_u64().unwrap() + skipped,
        expected.len() as u64,
        "{s}"
    );
    // Only events the killed run had sent past its last checkpoint are sent twice (Segment
    // drops those by messageId); nothing it had settled is.
    let twice: Vec<&String> = after
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(m, _)| m)
        .collect();
    assert!(after.values().all(|n| *n <= 2));
    assert!(twice.iter().all(|m| before.contains_key(*m)));
    assert!(
        twice.len() as u64 <= before.len() as u64 - skipped,
        "{} sent twice, {skipped} settled, {} sent before the kill",
        twice.len(),
        before.len()
    );
}

#[test]
fn a_wrong_url_stops_the_run_and_settles_nothing() {
    let (dir, sink, expected) = setup("wrong-url", 3, 50);
    let wrong = format!("{}/nowhere", sink.url);
    let out = run(&dir, &backfill_args(&wrong, &["--rps", "0"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("HTTP 404"), "{err}");
    let s = summary(&dir);
    assert_eq!(s["events"]["sent"], 0);
    assert!(s["stopped"].as_str().unwrap().contains("404"), "{s}");
    assert!(
        !dir.join("backfill.quarantine.jsonl").exists()
            || fs::read_to_string(dir.join("backfill.quarantine.jsonl"))
                .unwrap()
                .is_empty()
    );
    // With the right URL, everything is sent.
    let out = run(&dir, &backfill_args(&sink.url, &["--rps", "0"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sink.counts().len(), expected.len());
}

#[test]
fn requests_still_failing_are_left_for_the_next_run() {
    let (dir, sink, expected) = setup("give-up", 4, 100);
    sink.control(
        "POST",
        "/faults",
        json!({"rate": 1, "modes": ["503"], "retryAfter": 0}),
    );
    let args = backfill_args(&sink.url, &["--rps", "0", "--max-attempts", "2"]);
    let out = run(&dir, &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not sent after 2 attempts (last: http_503)"),
        "{err}"
    );
    let s = summary(&dir);
    assert_eq!(s["events"]["unsent"], json!({"http_503": expected.len()}));
    assert_eq!(s["events"]["sent"], 0);
    assert!(sink.counts().is_empty());
    // Nothing was settled: the next run, with Segment back, sends every event once.
    sink.control("DELETE", "/faults", Value::Null);
    let out = run(&dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let counts = sink.counts();
    assert_eq!(counts.len(), expected.len());
    assert!(counts.values().all(|n| *n == 1));
}

#[test]
fn each_destination_gets_its_events_in_its_region() {
    let (dir, sink, expected) = setup("regions", 4, 50);
    // Events carrying `app_id` (custom events, push sends) go to the EU source, the others
    // (email) to the default, US.
    let eu_key = "wk_backfill_secret_eu_0002";
    drop(sink);
    let sink = Sink::start(&dir, json!({"main": WRITE_KEY, "europe": eu_key}));
    let config = json!({
        "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "destinations": {"main": {"write_key": WRITE_KEY, "region": "us"},
                         "europe": {"write_key": eu_key, "region": "eu"}},
        "default_destination": "main",
        "routing": {"by": "app_id", "routes": {"app_id-value": "europe"}},
        "identity": {"include_anonymous": true}
    });
    fs::write(dir.join("connector.json"), config.to_string()).unwrap();
    let out = run(&dir, &backfill_args(&sink.url, &["--rps", "0"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains(eu_key) && !err.contains(WRITE_KEY));
    // Every event carrying app_id went to the EU source, the others to the US one.
    let eu: BTreeSet<String> = sink
        .get("/events?region=eu&source=europe")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_owned())
        .collect();
    let us: BTreeSet<String> = sink
        .get("/events?region=us&source=main")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_owned())
        .collect();
    let with_app: BTreeSet<String> = expected
        .iter()
        .filter(|(_, (_, call))| call["properties"]["app_id"].is_string())
        .map(|(m, _)| m.clone())
        .collect();
    assert!(!with_app.is_empty() && with_app.len() < expected.len());
    assert_eq!(eu, with_app);
    assert_eq!(us.len() + eu.len(), expected.len());
    assert!(us.is_disjoint(&eu));
}

#[test]
fn a_checkpoint_that_cannot_be_written_stops_the_run() {
    let (dir, sink, _) = setup("cannot-save", 2, 20);
    // The temporary file the checkpoint is written through cannot be created.
    fs::create_dir_all(dir.join("backfill.checkpoint.json.tmp")).unwrap();
    let out = run(&dir, &backfill_args(&sink.url, &["--rps", "0"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("the checkpoint could not be written"), "{err}");
    assert!(
        summary(&dir)["stopped"]
            .as_str()
            .unwrap()
            .contains("checkpoint")
    );
}
