//! The command line: `currents-relay backfill [OPTIONS] PATH...` → [`Options`]. Pure (the
//! arguments are a parameter), so every rule has a test.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use super::layout::{Selection, Window, parse_instant};

/// Default pace: requests per second across all senders (Segment asks for under ~1,000/s per
/// workspace; 20 requests of up to 2,500 events is far more than a backfill needs).
pub const DEFAULT_RPS: u32 = 20;
/// Default requests in flight.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default attempts per request before it is left for the next run (backoff 0.25-0.5 s,
/// doubling: about 2 to 4 minutes of waiting in all, more when Segment asks with `Retry-After`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Default checkpoint file.
pub const DEFAULT_CHECKPOINT: &str = "backfill.checkpoint.json";
/// Default quarantine file.
pub const DEFAULT_QUARANTINE: &str = "backfill.quarantine.jsonl";

/// The usage text.
pub const USAGE: &str = "\
currents-relay backfill: replay a Braze Currents storage export (Avro) into Segment, with the
Worker's own translation, so backfilled events and live ones get the same messageId.

USAGE:
    currents-relay backfill --config FILE --connector ID [OPTIONS] PATH...

PATH: Avro files, or folders searched recursively for *.avro (Braze's layout
    .../event_type=<type>/date=<YYYY-MM-DD-HH>/... gives each file's type and queue hour).

REQUIRED:
    --config FILE        the connector document, as stored in KV (write keys, regions,
                         naming, selection, identity, routing)
    --connector ID       the Worker's id of that connector: it scopes messageId, so it must
                         be the same for Segment to deduplicate backfilled and live events

SELECTION:
    --types T[,T...]     only these event types (repeatable)
    --since TIME         only files Braze queued from TIME on (by their date= folder; files
                         outside the layout: events whose time is >= TIME)
    --until TIME         only before TIME (exclusive). TIME: YYYY-MM-DD, YYYY-MM-DD-HH,
                         YYYY-MM-DDTHH:MM[:SS][Z] (UTC) or UNIX seconds

OUTPUT:
    --dry-run            print the Segment calls as JSON lines on stdout, send nothing,
                         write no checkpoint (and no quarantine file unless --quarantine)
    --segment-url URL    send to URL/us/v1/batch and URL/eu/v1/batch instead of Segment
                         (the local sink: scripts/segment-sink.mjs)
    --rps N              at most N requests per second (default 20; 0: no limit)
    --concurrency N      requests in flight (default 4)
    --max-attempts N     tries per request before leaving it for the next run (default 10)

STATE:
    --checkpoint FILE    what was sent, per file and record (default backfill.checkpoint.json)
    --quarantine FILE    events that cannot be sent, one JSON line each, appended
                         (default backfill.quarantine.jsonl)
    --restart            ignore an existing checkpoint and start over
    --summary-json FILE  also write the summary as JSON

EXIT STATUS:
    0 all sent (or filtered)   1 done, some events quarantined   2 bad arguments, config
    or checkpoint: nothing done   3 incomplete: run the same command again to go on
";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
    /// Run a backfill.
    Backfill(Box<Options>),
}

/// A backfill's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Files and folders.
    pub inputs: Vec<PathBuf>,
    /// The connector document.
    pub config: PathBuf,
    /// The connector id.
    pub connector: String,
    /// `--types`, `--since`, `--until`.
    pub selection: Selection,
    /// Print, do not send.
    pub dry_run: bool,
    /// Base URL replacing Segment's endpoints.
    pub segment_url: Option<String>,
    /// Requests per second (0: unlimited).
    pub rps: u32,
    /// Requests in flight.
    pub concurrency: usize,
    /// Attempts per request.
    pub max_attempts: u32,
    /// Checkpoint file.
    pub checkpoint: PathBuf,
    /// Quarantine file (`None` in a dry run without `--quarantine`).
    pub quarantine: Option<PathBuf>,
    /// Ignore the checkpoint.
    pub restart: bool,
    /// Summary as JSON.
    pub summary_json: Option<PathBuf>,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    match p.next().map_err(|e| e.to_string())? {
        Some(Long("help") | Short('h')) | None => return Ok(Command::Help),
        Some(Long("version") | Short('V')) => return Ok(Command::Version),
        Some(Value(cmd)) if cmd == "help" => return Ok(Command::Help),
        Some(Value(cmd)) if cmd == "backfill" => {}
        Some(other) => {
            return Err(format!(
                "{}: the only command is `backfill` (see --help)",
                other.unexpected()
            ));
        }
    }
    let mut inputs = Vec::new();
    let (mut config, mut connector) = (None, None);
    let mut types: Option<BTreeSet<String>> = None;
    let mut window = Window::default();
    let mut o = Options {
        inputs: Vec::new(),
        config: PathBuf::new(),
        connector: String::new(),
        selection: Selection::default(),
        dry_run: false,
        segment_url: None,
        rps: DEFAULT_RPS,
        concurrency: DEFAULT_CONCURRENCY,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        checkpoint: PathBuf::from(DEFAULT_CHECKPOINT),
        quarantine: None,
        restart: false,
        summary_json: None,
    };
    let mut quarantine = None;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        let text = |p: &mut lexopt::Parser| -> Result<String, String> {
            p.value()
                .map_err(|e| e.to_string())?
                .into_string()
                .map_err(|v| format!("{v:?} is not valid UTF-8"))
        };
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("config") => config = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("connector") => connector = Some(text(&mut p)?),
            Long("types") => {
                let list = text(&mut p)?;
                let set = types.get_or_insert_with(BTreeSet::new);
                for t in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    set.insert(t.to_owned());
                }
            }
            Long("since") => window.since = Some(parse_instant(&text(&mut p)?)?),
            Long("until") => window.until = Some(parse_instant(&text(&mut p)?)?),
            Long("dry-run") => o.dry_run = true,
            Long("segment-url") => o.segment_url = Some(segment_url(&text(&mut p)?)?),
            Long("rps") => o.rps = number(&text(&mut p)?, "--rps", 0)?,
            Long("concurrency") => o.concurrency = number(&text(&mut p)?, "--concurrency", 1)?,
            Long("max-attempts") => o.max_attempts = number(&text(&mut p)?, "--max-attempts", 1)?,
            Long("checkpoint") => o.checkpoint = p.value().map_err(|e| e.to_string())?.into(),
            Long("quarantine") => quarantine = Some(p.value().map_err(|e| e.to_string())?.into()),
            Long("restart") => o.restart = true,
            Long("summary-json") => {
                o.summary_json = Some(p.value().map_err(|e| e.to_string())?.into())
            }
            Value(path) => inputs.push(PathBuf::from(path)),
            other => return Err(format!("{} (see --help)", other.unexpected())),
        }
    }
    o.config = config.ok_or("--config FILE is required (the connector document)")?;
    o.connector = connector.ok_or(
        "--connector ID is required (the Worker's id of the connector: it scopes messageId)",
    )?;
    if !crate::config::is_valid_connector_id(&o.connector) {
        return Err(format!(
            "--connector {:?}: a connector id is 1-64 letters, digits, `_` or `-`",
            o.connector
        ));
    }
    if inputs.is_empty() {
        return Err("no PATH given: name the exported files or folders".into());
    }
    if types.as_ref().is_some_and(BTreeSet::is_empty) {
        return Err("--types lists no type".into());
    }
    if let (Some(s), Some(u)) = (window.since, window.until)
        && s >= u
    {
        return Err("--since must be before --until".into());
    }
    o.inputs = inputs;
    o.selection = Selection { types, window };
    o.quarantine = match (quarantine, o.dry_run) {
        (Some(q), _) => Some(q),
        (None, true) => None,
        (None, false) => Some(PathBuf::from(DEFAULT_QUARANTINE)),
    };
    Ok(Command::Backfill(Box::new(o)))
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    text: &str,
    flag: &str,
    min: T,
) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("{flag} {text:?}: a whole number, at least {min}")),
    }
}

/// `--segment-url`: an `http(s)://` base, without a trailing slash.
fn segment_url(text: &str) -> Result<String, String> {
    let base = text.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(base.to_owned()),
        _ => Err(format!(
            "--segment-url {text:?}: an http:// or https:// base URL (requests go to <URL>/us/v1/batch and <URL>/eu/v1/batch)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &str) -> Result<Command, String> {
        parse(args.split_whitespace().map(OsString::from))
    }

    fn options(args: &str) -> Options {
        match run(args).unwrap() {
            Command::Backfill(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let o = options("backfill --config c.json --connector acme export/");
        assert_eq!(o.inputs, vec![PathBuf::from("export/")]);
        assert_eq!(o.config, PathBuf::from("c.json"));
        assert_eq!(o.connector, "acme");
        assert_eq!(o.selection, Selection::default());
        assert_eq!(
            (o.rps, o.concurrency, o.max_attempts),
            (DEFAULT_RPS, DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS)
        );
        assert_eq!(o.checkpoint, PathBuf::from(DEFAULT_CHECKPOINT));
        assert_eq!(o.quarantine, Some(PathBuf::from(DEFAULT_QUARANTINE)));
        assert!(!o.dry_run && !o.restart && o.segment_url.is_none());
        let dry = options("backfill --dry-run --config c.json --connector acme a.avro b");
        assert_eq!(dry.quarantine, None, "a dry run writes no file by default");
        assert_eq!(dry.inputs.len(), 2);
    }

    #[test]
    fn every_option() {
        let o = options(
            "backfill --config c.json --connector acme --types users.messages.email.Open \
             --types users.messages.email.Send,users.messages.email.Open --since 2025-04-01 \
             --until 2025-04-02T06 --segment-url http://127.0.0.1:8788/ --rps 0 --concurrency 8 \
             --max-attempts 3 --checkpoint cp.json --quarantine q.jsonl --restart \
             --summary-json s.json --dry-run in",
        );
        let types: Vec<&str> = o
            .selection
            .types
            .as_ref()
            .unwrap()
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            types,
            ["users.messages.email.Open", "users.messages.email.Send"]
        );
        assert_eq!(o.selection.window.since, Some(1_743_465_600));
        assert_eq!(o.selection.window.until, Some(1_743_465_600 + 30 * 3600));
        assert_eq!(o.segment_url.as_deref(), Some("http://127.0.0.1:8788"));
        assert_eq!((o.rps, o.concurrency, o.max_attempts), (0, 8, 3));
        assert_eq!(o.quarantine, Some(PathBuf::from("q.jsonl")));
        assert!(o.restart && o.dry_run);
        assert_eq!(o.summary_json, Some(PathBuf::from("s.json")));
    }

    #[test]
    fn help_version_and_mistakes() {
        assert_eq!(run(""), Ok(Command::Help));
        assert_eq!(run("--help"), Ok(Command::Help));
        assert_eq!(run("help"), Ok(Command::Help));
        assert_eq!(run("backfill -h"), Ok(Command::Help));
        assert_eq!(run("-V"), Ok(Command::Version));
        for (args, expected) in [
            ("replay x", "only command"),
            ("backfill --connector a x", "--config"),
            ("backfill --config c x", "--connector"),
            ("backfill --config c --connector a", "no PATH"),
            ("backfill --config c --connector a/b x", "connector id"),
            ("backfill --config c --connector a --rps -1 x", "--rps"),
            (
                "backfill --config c --connector a --concurrency 0 x",
                "--concurrency",
            ),
            (
                "backfill --config c --connector a --since 2025-04-02 --until 2025-04-01 x",
                "before",
            ),
            (
                "backfill --config c --connector a --since soon x",
                "not a time",
            ),
            (
                "backfill --config c --connector a --segment-url ftp://x x",
                "--segment-url",
            ),
            ("backfill --config c --connector a --types , x", "no type"),
            ("backfill --config c --connector a --bogus x", "bogus"),
        ] {
            let err = run(args).unwrap_err();
            assert!(err.contains(expected), "{args}: {err}");
        }
        assert!(USAGE.contains("--segment-url"));
    }
}
