//! The contract suite's harness (`test_support::contract`) over this binary's backend.

pub use test_support::contract::*;

/// A fresh API over a fresh backend, from the binary's own `backend` module.
pub fn spawn_app() -> TestApp {
    let (backend, device, isolation) = crate::backend::fresh();
    TestApp::new(backend, device, isolation)
}
