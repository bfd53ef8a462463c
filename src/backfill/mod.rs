//! The backfill command (feature `backfill`, native only): replays a Braze Currents storage
//! export, Avro files in Braze's folder layout, into Segment with the Worker's own translator, so
//! an event backfilled and the same event received live give the same Segment call and the same
//! `messageId` (Segment deduplicates an overlap).
//!
//! Pure, unit-tested: the layout and the selection (`layout`), a storage record → a Currents
//! event (`record`, written into a chunk's batch by `batch`), requests and what each answer means (`requests`), the checkpoint
//! (`checkpoint`), the summary, exit status and quarantine lines (`tally`), the command line
//! (`cli`). The shell, thin: finding and opening files (`read`), decoding (`decode`, on its own
//! thread) and translating (`reader`), sending (`send`, `http`), the state, quarantine file and progress (`coord`,
//! `progress`), the clock (`clock`), and the run that ties them (`run`).

mod batch;
pub mod checkpoint;
pub mod cli;
mod clock;
mod coord;
mod decode;
pub mod http;
pub mod layout;
mod progress;
pub mod read;
mod reader;
pub mod record;
pub mod requests;
mod run;
mod send;
pub mod tally;

pub use run::{main, run};
