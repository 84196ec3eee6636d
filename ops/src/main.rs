//! `ops`: the commands that talk to AWS or load the server, run through `cargo xtask` (`cargo
//! xtask deploy` runs `ops deploy`). They are a binary of their own so that serving and testing
//! locally never wait for the AWS SDK crates to build.

mod api;
mod bench;
mod deploy;
mod device;
mod fleet;
mod smoke;
#[cfg(test)]
mod testing;
mod transfer;
mod upload;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The IoT device management API's commands that talk to AWS or load the server"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Build, upload and deploy the stack to AWS through a change set, shown before it runs.
    Deploy(deploy::DeployArgs),
    /// Delete the deployed stack, after confirmation.
    Destroy(deploy::DestroyArgs),
    /// Check a deployed stack (or a URL) end to end: a thing and a job made, read and removed.
    Smoke(smoke::Args),
    /// Play a device: take the thing's next job from the local device endpoint, download and
    /// check its files, and end it as told.
    Device(device::Args),
    /// A simulated fleet: register N things, then play them all as devices through a rollout.
    #[command(subcommand)]
    Fleet(fleet::Command),
    /// Upload a firmware file: register, upload with a progress bar, verify, optionally publish.
    Upload(upload::Args),
    /// Measure on this machine and print the figures as Markdown for BENCHMARKS.md.
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Subcommand)]
enum Bench {
    /// Load-test the release local server: requests/s and latencies.
    Api(bench::Args),
    /// Start the Lambda bootstrap afresh 20+ times: init, first response, warm latency, RSS, zip size.
    ColdStart(bench::cold_start::Args),
    /// Load-test the emulator's fleet index: search, and dynamic groups following shadow reports.
    Registry(bench::registry::Args),
    /// Fleet scale: search and dynamic groups over 100,000 things, and a rollout to all of them
    /// played by the simulated fleet, against the targets of fleet scale.
    Fleet(bench::fleet::Args),
    /// Upload and download a 1 GiB firmware file through the release local server: MB/s, RSS.
    Files(bench::files::Args),
    /// Time a newcomer's first run: `cargo xtask serve` and `cargo xtask test` from fresh clones.
    FirstRun(bench::first_run::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Commands::Deploy(args) => deploy::run_deploy(args),
        Commands::Destroy(args) => deploy::run_destroy(args),
        Commands::Smoke(args) => smoke::run(args),
        Commands::Device(args) => device::run(args),
        Commands::Upload(args) => upload::run(args),
        Commands::Fleet(command) => fleet::run(command),
        Commands::Bench(Bench::Api(args)) => bench::run(args),
        Commands::Bench(Bench::ColdStart(args)) => bench::cold_start::run(args),
        Commands::Bench(Bench::Registry(args)) => bench::registry::run(args),
        Commands::Bench(Bench::Fleet(args)) => bench::fleet::run(args),
        Commands::Bench(Bench::FirstRun(args)) => bench::first_run::run(args),
        Commands::Bench(Bench::Files(args)) => bench::files::run(args),
    };
    xtask::util::exit_code(result)
}
