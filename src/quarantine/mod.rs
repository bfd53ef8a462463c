//! Quarantine: everything about events that cannot be forwarded as they are. The document kept
//! per batch (`doc`), its R2 key schema (`keys`), the admin listing served from object metadata
//! (`listing`) and replay (`replay`) are pure; on wasm32, `store` reads and writes R2 and
//! `edge` serves the admin routes `GET /admin/quarantine`, `GET /admin/quarantine/object` and
//! `POST /admin/quarantine/replay`.

mod doc;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod edge;
mod keys;
mod listing;
mod replay;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod store;

pub use doc::{DeliveryReason, QuarantineDoc, QuarantineEntry, SegmentAnswer};
pub use keys::{
    QUARANTINE_PREFIX, connector_of_key, connector_param, connector_prefix, quarantine_key,
    quarantine_key_param,
};
pub use listing::{
    GenerationFilter, ListingEntry, META_GENERATION, META_REPLAYED_AT, listing_json,
    quarantine_metadata,
};
pub use replay::{
    Disposition, REPLAY_PAGE_MAX, ReplayPage, ReplayPlan, ReplaySummary, ReplayTarget,
    parse_replay, replay, replay_page,
};

/// Connector id of quarantine objects whose connector cannot be read (a queue body that is not
/// a delivery message and names no valid connector).
pub const UNKNOWN_CONNECTOR: &str = "_unknown";
