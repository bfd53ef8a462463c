//! The drift report costs a batch without drift nothing: `Report::observe` allocates no byte for
//! an event whose properties the mapping table all documents, and a drift already recorded (the
//! same new type, the same undocumented property) costs no allocation when it comes again. The
//! batch's `Observer` (what `pipeline::process` uses) allocates once per known type, to remember
//! its names, and then nothing. dhat's allocator counts every allocation of this test binary.
#![allow(missing_docs)]

use currents_relay::currents::{Envelope, ValidEvent, validate_event};
use currents_relay::drift::{Observer, Report};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn event(i: usize, event_type: &str, properties: &str) -> String {
    format!(
        r#"{{"id":"e{i}","event_type":"{event_type}","time":1767225600,"user":{{"user_id":"b{i}","external_user_id":"u{i}"}},"properties":{properties}}}"#
    )
}

/// Allocations made while `ev` are observed.
fn blocks_while(report: &mut Report, events: &[ValidEvent<'_>]) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    for ev in events {
        report.observe(ev, 1_767_225_600_000);
    }
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn observing_costs_no_allocation_without_new_drift() {
    // Listed, moved to context, never forwarded, or null: all documented or absent.
    let documented = r#"{"campaign_id":"c","dispatch_id":"d","email_address":"a@b.c","device_model":"m","os_version":"17","send_id":"s","is_amp":true,"unlisted":null}"#;
    let drifting = r#"{"campaign_id":"c","ai_score":0.5}"#;
    let mut events: Vec<String> = (0..500)
        .map(|i| event(i, "users.messages.email.Open", documented))
        .collect();
    events.extend((500..1000).map(|i| event(i, "users.messages.hologram.Send", drifting)));
    events.extend((1000..1500).map(|i| event(i, "users.messages.email.Open", drifting)));
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    let envelope = Envelope::parse(body.as_bytes()).unwrap();
    let valid: Vec<ValidEvent<'_>> = envelope
        .events
        .iter()
        .map(|raw| validate_event(raw).unwrap())
        .collect();

    let _profiler = dhat::Profiler::builder().testing().build();
    let mut report = Report::default();
    let documented_only = blocks_while(&mut report, &valid[..500]);
    let empty = report.is_empty();
    // A new type and an undocumented property allocate at their first sighting only.
    let new_type = blocks_while(&mut report, &valid[500..501]);
    let same_type = blocks_while(&mut report, &valid[501..1000]);
    let new_field = blocks_while(&mut report, &valid[1000..1001]);
    let same_field = blocks_while(&mut report, &valid[1001..]);
    let counts = (report.types[0].count, report.fields[0].count);
    // The batch's observer: its first documented event of a type remembers the names (one
    // allocation for its list of types, one for the names), the rest cost nothing.
    let mut observer = Observer::default();
    let before = dhat::HeapStats::get().total_blocks;
    observer.observe(&valid[0], 1);
    let first = dhat::HeapStats::get().total_blocks - before;
    let before = dhat::HeapStats::get().total_blocks;
    for ev in &valid[1..500] {
        observer.observe(ev, 1);
    }
    let rest = dhat::HeapStats::get().total_blocks - before;
    let observer_empty = observer.report.is_empty();
    dhat::assert_eq!(documented_only, 0);
    dhat::assert!(empty);
    dhat::assert!(new_type > 0 && new_field > 0);
    dhat::assert_eq!((same_type, same_field), (0, 0));
    dhat::assert_eq!(counts, (500, 500));
    dhat::assert_eq!((first, rest), (2, 0));
    dhat::assert!(observer_empty);
}
