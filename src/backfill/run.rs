//! A backfill run: set up (config, files, checkpoint, lock), then read on this thread while the
//! senders send and the coordinator keeps the state, then the summary.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use super::checkpoint::{Checkpoint, Resume, fingerprint};
use super::cli::{Command, Options, USAGE, parse};
use super::clock::Stopwatch;
use super::coord::{Note, Sinks, coordinate, write_atomically};
use super::decode::{CHUNKS_AHEAD, Decoder};
use super::layout::file_meta;
use super::progress::Progress;
use super::read::find_files;
use super::reader::Reader;
use super::requests::{Pacer, Request};
use super::send::{Senders, sender};
use super::tally::{EXIT_USAGE, Summary};
use crate::config::{ConfigError, ConnectorConfig};
use crate::segment::RetryPolicy;

/// The command: parses `args` (after the program name), runs, returns the exit status.
pub fn main(args: impl IntoIterator<Item = OsString>) -> u8 {
    match parse(args) {
        Ok(Command::Help) => {
            let _ = write!(std::io::stdout().lock(), "{USAGE}");
            0
        }
        Ok(Command::Version) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "currents-relay {}",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        Ok(Command::Backfill(options)) => run(&options),
        Err(e) => fail(&format!(
            "{e}\n{}",
            "usage: currents-relay backfill --config FILE --connector ID [OPTIONS] PATH... (--help for more)"
        )),
    }
}

fn fail(message: &str) -> u8 {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    EXIT_USAGE
}

/// A config error as shown: a write key's value is never part of it, even when serde would
/// quote what it found there.
fn config_error(e: &ConfigError) -> String {
    if e.field.ends_with("write_key") {
        format!(
            "{}: not a valid write key (its value is not shown)",
            e.field
        )
    } else {
        e.to_string()
    }
}

/// Runs a backfill.
pub fn run(o: &Options) -> u8 {
    let config_text = match std::fs::read(&o.config) {
        Ok(t) => t,
        Err(e) => return fail(&format!("--config {}: {e}", o.config.display())),
    };
    let config = match ConnectorConfig::from_json(&String::from_utf8_lossy(&config_text)) {
        Ok(c) => c,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(config_error).collect();
            return fail(&format!(
                "--config {}: {}",
                o.config.display(),
                list.join("; ")
            ));
        }
    };
    if config.paused && !o.dry_run {
        return fail(
            "the connector is paused in this config (\"paused\": true): resume it to backfill, or use --dry-run",
        );
    }
    let files = match find_files(&o.inputs) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let fp = fingerprint(&config_text, &o.selection.describe());
    // The lock lives as long as the run: a second run on the same checkpoint is refused, and a
    // killed run's lock goes with its process.
    let _lock = if o.dry_run {
        None
    } else {
        match lock(&o.checkpoint) {
            Ok(l) => Some(l),
            Err(e) => return fail(&e),
        }
    };
    let checkpoint = match load_checkpoint(o, &fp) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let quarantine = match &o.quarantine {
        None => None,
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => return fail(&format!("--quarantine {}: {e}", path.display())),
        },
    };
    // What will be read: for the progress bar's total.
    let mut total_bytes = 0;
    for path in &files {
        let key = path.to_string_lossy();
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        if o.selection.file(&file_meta(path)).is_ok()
            && checkpoint.resume(&key, bytes) != Resume::Complete
        {
            total_bytes += bytes;
        }
    }
    let summary = Summary {
        connector: o.connector.clone(),
        dry_run: o.dry_run,
        ..Summary::default()
    };
    let decoded = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sinks = Sinks {
        checkpoint: (!o.dry_run).then(|| o.checkpoint.clone()),
        quarantine,
        decoded: Arc::clone(&decoded),
        stop: Arc::clone(&stop),
    };
    let (notes, inbox) = mpsc::channel();
    let progress = Progress::new(total_bytes);
    let resume_from = checkpoint.clone();
    let coordinator =
        std::thread::spawn(move || coordinate(inbox, resume_from, summary, sinks, progress));
    let file_names = Arc::new(Mutex::new(Vec::new()));
    let clock = Stopwatch::start();
    let (requests, workers) = if o.dry_run {
        (None, Vec::new())
    } else {
        let (tx, rx) = mpsc::sync_channel::<Request>(o.concurrency);
        let shared = Arc::new(Senders {
            agent: super::http::agent(o.concurrency),
            base_url: o.segment_url.clone(),
            keys: Senders::keys(&config),
            policy: RetryPolicy::default(),
            max_attempts: o.max_attempts,
            pacer: Mutex::new(Pacer::new(o.rps)),
            clock,
            stop: Arc::clone(&stop),
            notes: notes.clone(),
            files: Arc::clone(&file_names),
        });
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..o.concurrency)
            .map(|_| {
                let (shared, rx) = (Arc::clone(&shared), Arc::clone(&rx));
                std::thread::spawn(move || sender(shared, rx))
            })
            .collect();
        (Some(tx), workers)
    };
    let _ = notes.send(Note::Log(format!(
        "backfill of connector {}: {} files found, {}{}",
        o.connector,
        files.len(),
        if o.dry_run {
            "dry run (nothing is sent)"
        } else {
            "sending to "
        },
        if o.dry_run {
            String::new()
        } else {
            destinations(&config, o.segment_url.as_deref())
        }
    )));
    let (work_tx, work_rx) = mpsc::sync_channel(CHUNKS_AHEAD);
    let (done_tx, done_rx) = mpsc::channel();
    let mut decoder = Decoder {
        selection: &o.selection,
        checkpoint: &checkpoint,
        notes: notes.clone(),
        work: work_tx,
        done: done_rx,
        stop: &stop,
        decoded,
        file_names,
        skipped: 0,
        already_complete: 0,
    };
    let mut reader = Reader {
        options: o,
        config: &config,
        notes: notes.clone(),
        requests,
        done: done_tx,
        clock,
        stdout: o.dry_run.then(|| BufWriter::new(std::io::stdout().lock())),
        stop: Arc::clone(&stop),
        packer: super::requests::RequestPacker::new(&o.connector),
        warned_unknown: None,
    };
    let found = files.len() as u64;
    let (skipped, already_complete) = std::thread::scope(|scope| {
        let decoding = scope.spawn(move || {
            decoder.decode_all(&files);
            (decoder.skipped, decoder.already_complete)
        });
        reader.translate_all(work_rx);
        decoding.join().unwrap_or_default()
    });
    drop(reader);
    for w in workers {
        let _ = w.join();
    }
    drop(notes);
    let mut summary = coordinator.join().unwrap_or_default();
    summary.files.found = found;
    summary.files.skipped = skipped;
    summary.files.already_complete = already_complete;
    finish(o, &summary)
}

/// Prints the summary, writes it as JSON if asked; the exit status.
fn finish(o: &Options, summary: &Summary) -> u8 {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", summary.text());
    if !o.dry_run {
        let _ = writeln!(err, "  checkpoint: {}", o.checkpoint.display());
    }
    if let Some(q) = &o.quarantine {
        let _ = writeln!(err, "  quarantine file: {}", q.display());
    }
    drop(err);
    if let Some(path) = &o.summary_json {
        let json = serde_json::to_string_pretty(summary).expect("a summary serialises");
        if let Err(e) = write_atomically(path, json.as_bytes()) {
            let _ = writeln!(
                std::io::stderr().lock(),
                "--summary-json {}: {e}",
                path.display()
            );
        }
    }
    summary.exit_code()
}

/// Where events go, for the first line: destination names, regions and URLs (no key).
fn destinations(config: &ConnectorConfig, base: Option<&str>) -> String {
    let list: Vec<String> = config
        .destinations
        .iter()
        .map(|(name, d)| {
            let region = d.region.resolve(None);
            format!(
                "{name} ({}, {})",
                region.code(),
                super::http::endpoint(base, region)
            )
        })
        .collect();
    list.join(", ")
}

fn lock(checkpoint: &Path) -> Result<File, String> {
    let mut path = checkpoint.as_os_str().to_owned();
    path.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", Path::new(&path).display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => Err(format!(
            "another backfill is running with the checkpoint {}",
            checkpoint.display()
        )),
    }
}

fn load_checkpoint(o: &Options, fp: &str) -> Result<Checkpoint, String> {
    let fresh = Checkpoint::new(&o.connector, fp);
    if o.dry_run || o.restart {
        return Ok(fresh);
    }
    let text = match std::fs::read_to_string(&o.checkpoint) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(fresh),
        Err(e) => return Err(format!("--checkpoint {}: {e}", o.checkpoint.display())),
    };
    let checkpoint = Checkpoint::from_json(&text).map_err(|e| {
        format!(
            "--checkpoint {}: not a checkpoint ({e}); use --restart to start over",
            o.checkpoint.display()
        )
    })?;
    checkpoint.check(&o.connector, fp).map_err(|e| {
        format!(
            "--checkpoint {}: {e}; use another --checkpoint file for this run, or --restart to start over",
            o.checkpoint.display()
        )
    })?;
    Ok(checkpoint)
}

/// Sends a request to the senders; `false` when they are gone.
pub(super) fn dispatch(requests: &Option<SyncSender<Request>>, notes: &Sender<Note>, r: Request) {
    let at: Vec<_> = r.origins.iter().map(|o| (o.file, o.record)).collect();
    let refused = match requests {
        Some(tx) => tx.send(r).is_err(),
        None => true,
    };
    if refused {
        let _ = notes.send(Note::Unsent("stopped".into(), at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_key_errors_never_show_the_value() {
        let e = ConfigError {
            field: "destinations.main.write_key".into(),
            message: "invalid type: integer `123456789`, expected a string".into(),
        };
        let shown = config_error(&e);
        assert!(!shown.contains("123456789"), "{shown}");
        assert!(shown.starts_with("destinations.main.write_key"));
        let other = ConfigError {
            field: "destinations.main.region".into(),
            message: "unknown variant `mars`".into(),
        };
        assert_eq!(
            config_error(&other),
            "destinations.main.region: unknown variant `mars`"
        );
    }
}
