//! currents-relay: Braze Currents → Segment, as a Cloudflare Worker in Rust.
//!
//! # Map
//! One module per concern; each holds its pure part (decisions, formats, keys, bodies) and, where
//! it touches the platform, a thin wasm32-only part (`edge.rs`, `store.rs`, `object.rs`,
//! `client.rs`, `queue.rs`) that performs the effects the pure part returns.
//!
//! | module | concern |
//! |---|---|
//! | [`currents`] | Braze's wire model and validation (untrusted bytes → `ValidEvent` or a reason) |
//! | [`mapping`] | the event table as data |
//! | [`translate`] | a validated event + the connector config → a Segment `track` call, or a filter reason |
//! | [`pipeline`] | `process()`: parse, validate, translate, pack; the one entry point of the Worker, `pkg/` and tests |
//! | [`drift`] | what Braze sends that the table does not describe: the bounded report, its merge (the stats object keeps it) |
//! | [`segment`] | Segment's limits, `track`, `messageId`, the batch body, the retry classifier; the HTTP client |
//! | [`config`] | the connector document, secrets, ids and KV keys, typed settings; the KV store |
//! | [`ingest`] | `POST /v1/currents/{connector}`: what a processed batch becomes; the handler |
//! | [`delivery`] | queue messages, packing, the consumer's decisions; the queue producer and consumer |
//! | [`quarantine`] | quarantine documents, keys, listing, replay; R2 and the quarantine admin routes |
//! | [`stats`] | counters, the pending ledger, deltas and their merge; the stats Durable Object |
//! | [`alerts`] | alert rules and their evaluation (pure, `now` given); the scheduled handler's run |
//! | [`metrics`] | `GET /admin/metrics` in the Prometheus text format; reading the stats objects |
//! | [`admin`] | the admin route table, token check, connector bodies; the admin handlers |
//! | [`web`] | routing, problem+json answers, CORS, security headers, the request log line |
//! | `entry` | the Worker's `fetch`, `queue` and `scheduled` entry points, the platform clock and randomness (wasm32) |
//! | `wasm` | the `pkg/` wrapper for browsers and Node (feature `browser`) |
//! | `backfill` | the native backfill command: a Currents storage export (Avro) → Segment (feature `backfill`) |
//!
//! # Boundaries
//! Everything outside the wasm32-only parts is a pure core: it never touches `worker`,
//! `js-sys`, a clock or randomness (time, seeds and the request's origin are parameters;
//! `clippy.toml` forbids the std clock and `fastrand`'s global generator). The platform crates
//! are compiled only for wasm32 with feature `edge` (the Worker) or `browser` (`pkg/`), so
//! `cargo test` is native and a core module that reached for them would not build.

pub mod admin;
pub mod alerts;
#[cfg(all(not(target_arch = "wasm32"), feature = "backfill"))]
pub mod backfill;
pub mod config;
pub mod currents;
pub mod delivery;
pub mod drift;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
mod entry;
pub mod error;
pub mod ingest;
pub mod mapping;
pub mod metrics;
pub mod pipeline;
pub mod quarantine;
pub mod segment;
pub mod stats;
pub mod timefmt;
pub mod translate;
pub mod web;

#[cfg(all(target_arch = "wasm32", feature = "browser"))]
pub mod wasm;

pub use config::ConnectorConfig;
pub use error::RequestError;
pub use pipeline::{Outcome, ProcessContext, process};
