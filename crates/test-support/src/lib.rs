//! What the tests and the benches share and production never runs (`publish = false`): the
//! contract suite's harness (`contract`), which the suite runs on the emulator and on the AWS
//! backend, and the Lambda Runtime API emulator (`runtime_api`), under which
//! `crates/lambda/tests/runtime.rs` and `cargo xtask bench cold-start` run the real bootstrap.

pub mod contract;
pub mod runtime_api;
