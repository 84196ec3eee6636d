//! HTTP-level tests of every operation, run through the router on the emulator. One binary, so
//! the workspace links it once.

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

mod backend;
mod helpers;
mod spec;
mod suite;
