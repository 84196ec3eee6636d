//! The AWS backend's tests, in one binary.
//!
//! - The HTTP contract suite written for the emulator (`crates/handlers/tests/api/suite`), run
//!   unchanged on the AWS backend against a moto server, included here as one module. `cargo xtask test` starts moto and sets
//!   `IOT_API_MOTO_URL`. moto plays AWS IoT's things, groups and templates well, but not its jobs;
//!   each suite case moto cannot play is marked in the suite with
//!   `#[cfg_attr(contract_on_moto, ignore = "moto: ...")]`, saying why.
//! - `on_moto`: what the suite cannot set up on moto through the API, set up with the SDK and
//!   then driven through the API.
//! - `mocked`: the adapter against mocked SDK clients, which covers each of those cases (its
//!   `MOTO_GAPS` list says which test covers which reason, and a test keeps that list complete).

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

mod backend;
mod catalog_table;
#[path = "../../../handlers/tests/api/helpers.rs"]
mod helpers;
mod mocked;
mod on_moto;

#[path = "../../../handlers/tests/api/suite/mod.rs"]
mod suite;
