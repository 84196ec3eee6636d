//! What `cargo xtask` and the `ops` commands share: settings, the template, the Lambda artifact,
//! Python tools, the local server for checks, and small helpers. Nothing here needs the AWS SDK,
//! so `cargo xtask serve` builds only this, the CLI and the server.

pub mod build;
pub mod infra;
pub mod local_server;
pub mod python;
pub mod synth;
pub mod util;
