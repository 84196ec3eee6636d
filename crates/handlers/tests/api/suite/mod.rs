//! The HTTP contract suite: every operation through the router, on whichever backend the test
//! binary gives `helpers::spawn_app` (the emulator here; the AWS backend on moto in
//! `crates/aws/tests/aws`, which includes this folder once). A case a backend's stand-in cannot
//! play is marked ignored under `cfg(contract_on_moto)`, with the reason.

mod bad_input;
mod executions;
mod files;
mod groups;
mod jobs;
mod registry;
mod scenarios;
mod templates;
mod thing_types;
