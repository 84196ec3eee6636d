//! The contract suite's harness (`test_support::contract`) over this binary's backend.

pub use test_support::contract::*;

/// A fresh API over a fresh backend, from the binary's own `backend` module.
pub fn spawn_app() -> TestApp {
    let fresh = crate::backend::fresh();
    let app = TestApp::new(fresh.backend, fresh.device, fresh.isolation);
    match fresh.objects {
        Some(objects) => app.with_objects(objects),
        None => app,
    }
}
