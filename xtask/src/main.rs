//! `cargo xtask <command>`: the project's one entry point. Serving, testing, the template and the
//! Lambda artifact run here; the commands that talk to AWS or load the server (deploy, destroy,
//! smoke, device, upload, bench) live in the `ops` binary, built only when one of them is asked for.

mod contract;
mod serve;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::util::{cargo, exit_code};
use xtask::{build, synth};

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
    /// Run every check CI runs but clippy: the contract with outside tools, the template, formatting
    /// and all tests.
    Test(test::Args),
    /// Run clippy over every crate and target, warnings as errors (CI runs it after the tests).
    Lint,
    /// Write infra/template.json (CloudFormation) from openapi.yaml and infra/iot-api.toml.
    Synth(Box<synth::Args>),
    /// Build the Lambda artifact: target/lambda/bootstrap-<architecture>/bootstrap.zip and its sha256.
    Build(build::Args),
    /// Build, upload and deploy the stack to AWS through a change set, shown before it runs. [ops]
    Deploy(Forwarded),
    /// Delete the deployed stack, after confirmation. [ops]
    Destroy(Forwarded),
    /// Check a deployed stack (or a URL) end to end: a thing and a job made, read and removed. [ops]
    Smoke(Forwarded),
    /// Play a device: take the thing's next job from the local device endpoint, download and
    /// check its files, and end it as told. [ops]
    Device(Forwarded),
    /// Upload a firmware file: register, upload with a progress bar, verify, optionally publish.
    /// [ops]
    Upload(Forwarded),
    /// A simulated fleet: `fleet create` registers N things, `fleet play` plays them all as
    /// devices through their pending jobs. [ops, built optimised]
    Fleet(Forwarded),
    /// Measure on this machine (api, cold-start, registry, files, first-run) and print Markdown for
    /// BENCHMARKS.md.
    /// [ops]
    Bench(Forwarded),
}

/// The arguments of a command the `ops` binary runs, `--help` included, passed on untouched.
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
struct Forwarded {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Serve(args) => serve::run(args),
        Commands::Test(args) => test::run(args),
        Commands::Lint => test::lint(),
        Commands::Synth(args) => synth::run(*args),
        Commands::Build(args) => build::run(args),
        Commands::Deploy(f) => return ops("deploy", f, false),
        Commands::Destroy(f) => return ops("destroy", f, false),
        Commands::Smoke(f) => return ops("smoke", f, false),
        Commands::Device(f) => return ops("device", f, false),
        Commands::Upload(f) => return ops("upload", f, false),
        // Thousands of devices at once need an optimised AWS SDK.
        Commands::Fleet(f) => return ops("fleet", f, true),
        // The load generators run in `ops`: unoptimised, they, not the server, would set the
        // figures.
        Commands::Bench(f) => return ops("bench", f, true),
    };
    exit_code(result)
}

/// Runs `command` of the `ops` binary, building it first (the AWS SDK crates: minutes the first
/// time, more for an optimised build), and exits as it exits.
fn ops(command: &str, forwarded: Forwarded, release: bool) -> ExitCode {
    let mut cargo = cargo();
    cargo.args(["run", "--locked", "--package", "ops"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo.arg("--").arg(command).args(&forwarded.args).status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(e) => {
            eprintln!("error: starting cargo run --package ops: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Commands};

    #[test]
    fn the_ops_commands_take_their_arguments_help_included_untouched() {
        let cli = Cli::try_parse_from(["cargo xtask", "deploy", "--help", "--stack-name", "s"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Commands::Deploy(forwarded) = cli.command else {
            panic!("not deploy");
        };
        assert_eq!(forwarded.args, ["--help", "--stack-name", "s"]);
        let cli = Cli::try_parse_from(["cargo xtask", "bench", "first-run", "--serve-only"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Commands::Bench(forwarded) = cli.command else {
            panic!("not bench");
        };
        assert_eq!(forwarded.args, ["first-run", "--serve-only"]);
    }
}
