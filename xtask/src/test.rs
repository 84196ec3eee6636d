//! `cargo xtask test`: everything CI checks, with its own setup: the contract as outside tools
//! read it (`contract.rs`), the template, formatting, clippy and every Rust test. Python tools are
//! installed into `.venv` from `requirements-dev.txt`, again only when that file changes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::{cargo, project_root, run_checked};

#[derive(clap::Args)]
pub struct Args {
    /// Skip `cargo clippy` (it builds the workspace once more).
    #[arg(long)]
    no_clippy: bool,
    /// Arguments passed on to `cargo test`, after `--`.
    #[arg(last = true)]
    cargo_test_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = project_root();
    let venv = python_tools(&root)?;
    run_checked(
        Command::new(venv.join("bin").join("openapi-spec-validator"))
            .arg(root.join("openapi.yaml")),
    )?;
    run_checked(cargo().args(["fmt", "--all", "--", "--check"]))?;
    infrastructure(&root, &venv)?;
    if !args.no_clippy {
        run_checked(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    // One build serves the contract checks (they need the server binary, which the test build
    // makes with the same features) and the tests, whose summary stays the last line.
    run_checked(cargo().args(["test", "--workspace", "--locked", "--no-run", "--quiet"]))?;
    crate::contract::run(&venv)?;
    let moto = Moto::start(&venv)?;
    cargo_test(&args.cargo_test_args, &moto.url)
}

/// The CloudFormation template: current with openapi.yaml and the settings, clean for cfn-lint and
/// checkov, and its API Gateway document still valid OpenAPI.
fn infrastructure(root: &Path, venv: &Path) -> anyhow::Result<()> {
    let current = crate::synth::check_current()?;
    let template = root.join("infra").join("template.json");
    run_checked(Command::new(venv.join("bin").join("cfn-lint")).arg(&template))?;
    let checkov = virtual_env(root, ".venv-checkov", "requirements-checkov.txt")?;
    run_checked(
        Command::new(checkov.join("bin").join("checkov"))
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
    let document = crate::target_dir().join("api-gateway-openapi.json");
    let body = &current["Resources"]["RestApi"]["Properties"]["Body"];
    std::fs::write(&document, serde_json::to_string_pretty(body)?)?;
    run_checked(Command::new(venv.join("bin").join("openapi-spec-validator")).arg(&document))
}

/// A moto server on a free loopback port, for the AWS backend's contract tests; stopped on drop.
pub struct Moto {
    child: std::process::Child,
    pub url: String,
}

impl Moto {
    pub fn start(venv: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(std::env::temp_dir().join("iot-api-moto.log"))?;
        let child = Command::new(venv.join("bin").join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // ARNs in the tests name this account, as the emulator's do.
            .env("MOTO_ACCOUNT_ID", "000000000000")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting moto_server from .venv")?;
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("moto_server did not listen on port {port} within 60 s; see its log in the temp directory");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("moto listening on {}", moto.url);
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// Creates `.venv` and installs the pinned Python tools, skipping both when they are current.
pub fn python_tools(root: &Path) -> anyhow::Result<PathBuf> {
    virtual_env(root, ".venv", "requirements-dev.txt")
}

/// Creates the virtual environment `dir` with the packages pinned in `requirements`, again only
/// when that file changes.
pub fn virtual_env(root: &Path, dir: &str, requirements: &str) -> anyhow::Result<PathBuf> {
    let venv = root.join(dir);
    let requirements = root.join(requirements);
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    if !venv.join("bin").join("python").exists() {
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating a Python virtual environment (is python3 with venv installed?)")?;
    }
    run_checked(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(venv)
}
