//! `cargo xtask test`: everything CI checks, with its own setup. Python tools are installed into
//! `.venv` from `requirements-dev.txt`, again only when that file changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

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
    run_checked(
        cargo()
            .args(["test", "--workspace", "--locked"])
            .args(&args.cargo_test_args),
    )?;
    Ok(())
}

/// Creates `.venv` and installs the pinned Python tools, skipping both when they are current.
fn python_tools(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join(".venv");
    let requirements = root.join("requirements-dev.txt");
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
