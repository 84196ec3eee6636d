//! `cargo xtask serve`: build the local server and run it in the foreground.

use anyhow::Context;

use crate::{cargo, project_root};

#[derive(clap::Args)]
pub struct Args {
    /// Build with optimizations (slower to build, faster to run).
    #[arg(long)]
    release: bool,
    /// Arguments for the server, after `--`, e.g. `-- --port 9000 --memory`.
    #[arg(last = true)]
    server_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut command = cargo();
    command.args([
        "run",
        "--quiet",
        "--package",
        "server",
        "--bin",
        "iot-api-local",
    ]);
    if args.release {
        command.arg("--release");
    }
    command.arg("--");
    let chooses_storage = args
        .server_args
        .iter()
        .any(|a| a == "--db" || a.starts_with("--db=") || a == "--memory");
    if !chooses_storage {
        // The default database lives in the repository's data/ folder, which git ignores.
        command
            .arg("--db")
            .arg(project_root().join("data").join("local.db"));
    }
    command.args(&args.server_args);
    let status = command.status().context("starting cargo run")?;
    if !status.success() {
        anyhow::bail!("the server exited with {status}");
    }
    Ok(())
}
