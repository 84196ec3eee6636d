//! What the tests and the benches share and production never runs (`publish = false`): the Lambda
//! Runtime API emulator, under which `crates/lambda/tests/runtime.rs` and `cargo xtask bench
//! cold-start` run the real bootstrap the same way.

pub mod runtime_api;
