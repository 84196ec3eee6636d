//! Project automation: `cargo xtask <command>`. Each command is one module with a `run`.

mod bench;
mod build;
mod coldstart;
mod contract;
mod deploy;
mod device;
mod infra;
mod local_server;
#[path = "../../crates/lambda/tests/support/runtime_api.rs"]
mod runtime_api;
mod serve;
mod smoke;
mod synth;
mod test;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, run, test and measure the IoT device management API"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Build and start the local server; its flags follow (`cargo xtask serve --port 9000 --memory`).
    Serve(serve::Args),
    /// Run every check CI runs: the OpenAPI validator, formatting, clippy and all tests.
    Test(test::Args),
    /// Write infra/template.json (CloudFormation) from openapi.yaml and infra/iot-api.toml.
    Synth(synth::Args),
    /// Build the Lambda artifact: target/lambda/bootstrap-<architecture>/bootstrap.zip and its sha256.
    Build(build::Args),
    /// Play a device: take the thing's next job from the local device endpoint and end it as told.
    Device(device::Args),
    /// Build, upload and deploy the stack to AWS through a change set, shown before it runs.
    Deploy(deploy::DeployArgs),
    /// Delete the deployed stack, after confirmation.
    Destroy(deploy::DestroyArgs),
    /// Check a deployed stack (or a URL) end to end: a thing and a job made, read and removed.
    Smoke(smoke::Args),
    /// Measure on this machine and print the figures as Markdown for BENCHMARKS.md.
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Subcommand)]
enum Bench {
    /// Load-test the release local server: requests/s and latencies.
    Api(bench::Args),
    /// Start the Lambda bootstrap afresh 20+ times: init, first response, warm latency, RSS, zip size.
    ColdStart(coldstart::Args),
    /// Load-test the emulator's fleet index: search, and dynamic groups following shadow reports.
    Registry(bench::registry::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Serve(args) => serve::run(args),
        Commands::Test(args) => test::run(args),
        Commands::Synth(args) => synth::run(args),
        Commands::Build(args) => build::run(args),
        Commands::Device(args) => device::run(args),
        Commands::Deploy(args) => deploy::run_deploy(args),
        Commands::Destroy(args) => deploy::run_destroy(args),
        Commands::Smoke(args) => smoke::run(args),
        Commands::Bench(Bench::Api(args)) => bench::run(args),
        Commands::Bench(Bench::ColdStart(args)) => coldstart::run(args),
        Commands::Bench(Bench::Registry(args)) => bench::registry::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The repository root: the parent of this crate.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts this workspace's build output.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"))
}

/// `cargo`, as the one running xtask.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    command
}

/// Runs a command to completion, failing with its command line when it fails.
pub fn run_checked(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    eprintln!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}
