//! Arbitrary bytes as a Currents request body through `pipeline::process`, under one of three
//! fixed connector configs; the first byte picks the config and the nearest region.
#![no_main]

use std::sync::LazyLock;

use currents_relay::config::{ConnectorConfig, Region};
use currents_relay::{ProcessContext, process};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

static CONFIGS: LazyLock<[ConnectorConfig; 3]> = LazyLock::new(common::configs);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let config = &CONFIGS[usize::from(selector % 3)];
    let nearest = [None, Some(Region::Us), Some(Region::Eu)][usize::from(selector / 3 % 3)];
    let ctx = ProcessContext {
        connector_id: common::CONNECTOR_ID,
        nearest_region: nearest,
        received_ms: 0,
    };
    if let Ok(outcome) = process(body, config, &ctx) {
        common::check_outcome(&outcome, config, nearest);
    }
});
