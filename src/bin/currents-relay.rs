//! `currents-relay backfill ...`: the native command line (feature `backfill`); see
//! `currents-relay --help` and README, "Backfill".

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(currents_relay::backfill::main(std::env::args_os().skip(1)))
}
