//! The admin API (Console and operators): the route table and token check (`routes`), the
//! connector routes' bodies, tokens and list rows (`connectors`), all pure; on wasm32, `edge`
//! authenticates, routes and dispatches (quarantine routes to [`crate::quarantine`], stats and
//! drift to [`crate::stats`]) and `connectors_edge` reads and writes connector documents in KV.
//!
//! Every path under `/admin/` requires `Authorization: Bearer <ADMIN_TOKEN>`; authentication is
//! checked before the route, so an unauthenticated caller learns nothing about which paths exist.

mod connectors;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
mod connectors_edge;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod edge;
mod routes;

pub use connectors::{
    CreateRequest, Health, ListRow, MAX_HEALTH_LOOKUPS, StoredConfig, TOKEN_BYTES, connector_json,
    created_json, health, list_json, list_row, new_bearer_token, parse_create, parse_update,
    rotated_json, stored_json,
};
pub use routes::{
    AdminRoute, AdminTokens, admin_authorized, admin_route_examples, authorized_admin_route,
};
