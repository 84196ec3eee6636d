//! `cargo xtask serve`: build the local server and run it in the foreground.

use anyhow::Context;

use crate::{cargo, project_root};

#[derive(clap::Args)]
pub struct Args {
    /// Build with optimizations (slower to build, faster to run).
    #[arg(long)]
    release: bool,
    /// The server's own flags, e.g. `--port 9000 --memory` (see `cargo xtask serve --help-server`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Print the server's flags.
    #[arg(long)]
    help_server: bool,
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
    if args.help_server {
        command.arg("--help");
    }
    let chooses_storage = args
        .server_args
        .iter()
        .any(|a| a == "--db" || a.starts_with("--db=") || a == "--memory");
    if !chooses_storage && !args.help_server {
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
