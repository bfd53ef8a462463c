//! currents-relay: Braze Currents → Segment, as a Cloudflare Worker in Rust.
//!
//! # Boundaries
//! Everything in this crate except the `worker` shell and the `wasm` browser wrapper is a pure
//! core: it never touches `worker`, `js-sys`, a clock or randomness. Time, seeds and the
//! request's origin are parameters. The platform crates are compiled only for wasm32, so a
//! core module that reached for them would not build natively.
//!
//! The life of a batch: [`currents::Envelope::parse`] splits the body, [`currents::validate_event`]
//! types each event or rejects it with a reason, [`translate::translate`] renders a Segment
//! `track` call or filters it, and [`segment::Batcher`] packs the calls into requests within
//! Segment's limits. [`pipeline::process`] runs the whole chain and is the entry point.

pub mod config;
pub mod currents;
pub mod delivery;
pub mod error;
pub mod http;
pub mod mapping;
pub mod pipeline;
pub mod retry;
pub mod segment;
pub mod translate;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
mod worker;

#[cfg(all(target_arch = "wasm32", feature = "browser"))]
pub mod wasm;

pub use config::ConnectorConfig;
pub use error::RequestError;
pub use pipeline::{Outcome, ProcessContext, process};
