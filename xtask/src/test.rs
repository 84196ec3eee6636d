//! `cargo xtask test`: everything CI checks but clippy (`cargo xtask lint`), with its own setup:
//! the contract as outside tools read it (`contract.rs`), the template, formatting and every Rust
//! test. The Python tools install while the workspace builds (`xtask::python`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use xtask::python::{Moto, Venv, CHECKOV, DEV};
use xtask::util::{cargo, project_root, run_checked, target_dir};

use crate::contract;

#[derive(clap::Args)]
pub struct Args {
    /// Write cargo's timing report of the test build (target/cargo-timings/).
    #[arg(long)]
    timings: bool,
    /// Arguments passed on to `cargo test`, after `--`.
    #[arg(last = true)]
    cargo_test_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = project_root();
    // The Rust build takes the most time on a fresh machine; the Python tools and Chromium
    // install meanwhile, and the checks that need no build run before it is waited for.
    let mut build = cargo();
    build.args(["test", "--workspace", "--locked", "--no-run", "--quiet"]);
    if args.timings {
        build.arg("--timings");
    }
    let build = build.spawn().context("starting cargo test --no-run")?;
    let build = Build(Some(build));
    let venv = DEV.install()?;
    let checkov = CHECKOV.install()?;
    let chromium = contract::chromium()?;
    run_checked(Command::new(venv.bin("openapi-spec-validator")).arg(root.join("openapi.yaml")))?;
    run_checked(cargo().args(["fmt", "--all", "--", "--check"]))?;
    infrastructure(&root, &venv, &checkov)?;
    let clients = contract::generated_clients(&root, &venv)?;
    // One build serves the contract checks (they need the server and ops binaries, which the
    // test build makes with the same features) and the tests, whose summary stays the last line.
    build.wait()?;
    // The console signs in through moto's Cognito; the AWS backend's tests use its IoT.
    let moto = Moto::start(&venv)?;
    contract::run(&venv, &clients, &chromium, &moto.url)?;
    cargo_test(&args.cargo_test_args, &moto.url)
}

/// `cargo xtask lint`: clippy over every crate and target, warnings refused. Apart from the test
/// command because it checks every dependency once more, which costs minutes on a fresh machine.
pub fn lint() -> anyhow::Result<()> {
    run_checked(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

/// The test build running in the background; stopped if the command fails before waiting for it.
struct Build(Option<Child>);

impl Build {
    fn wait(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.0.take() else {
            return Ok(());
        };
        eprintln!("$ cargo test --workspace --locked --no-run (waiting for the build)");
        let status = child.wait()?;
        if !status.success() {
            bail!("cargo test --no-run failed with {status}");
        }
        Ok(())
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The CloudFormation template: current with openapi.yaml and the settings, clean for cfn-lint and
/// checkov, and its API Gateway document still valid OpenAPI.
fn infrastructure(root: &Path, venv: &Venv, checkov: &Venv) -> anyhow::Result<()> {
    let current = xtask::synth::check_current()?;
    let template = root.join("infra").join("template.json");
    run_checked(Command::new(venv.bin("cfn-lint")).arg(&template))?;
    run_checked(
        Command::new(checkov.bin("checkov"))
            .args([
                "--quiet",
                "--compact",
                "--skip-download",
                "--framework",
                "cloudformation",
            ])
            .arg("--file")
            .arg(&template),
    )?;
    let document = target_dir().join("api-gateway-openapi.json");
    let body = &current["Resources"]["RestApi"]["Properties"]["Body"];
    std::fs::write(&document, serde_json::to_string_pretty(body)?)?;
    run_checked(Command::new(venv.bin("openapi-spec-validator")).arg(&document))
}

/// Runs `cargo test`, passing its output through, and ends with one summary line over all test
/// binaries, since cargo's own last line is that of whichever binary ran last.
fn cargo_test(extra: &[String], moto_url: &str) -> anyhow::Result<()> {
    let mut command = cargo();
    command
        // Every test binary runs, so one run shows every failure.
        .args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .args(extra)
        .env("IOT_API_MOTO_URL", moto_url)
        .stdout(Stdio::piped());
    eprintln!("$ {command:?}");
    let mut child = command.spawn().context("starting cargo test")?;
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(counts) = line.strip_prefix("test result: ") {
            passed += count(counts, "passed");
            failed += count(counts, "failed");
            ignored += count(counts, "ignored");
        }
    }
    let status = child.wait()?;
    println!("\ntests: {passed} passed, {failed} failed, {ignored} skipped");
    if !status.success() {
        bail!("cargo test failed with {status}");
    }
    if passed == 0 {
        bail!("cargo test ran no test");
    }
    Ok(())
}

/// The number before `word` in a line such as `ok. 65 passed; 0 failed; 0 ignored; ...`.
fn count(line: &str, word: &str) -> u64 {
    line.split(';')
        .filter_map(|part| {
            let part = part
                .trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ");
            part.strip_suffix(word)
        })
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}
