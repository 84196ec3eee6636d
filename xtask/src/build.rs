//! `cargo xtask build`: the Lambda artifact. The release bootstrap (profile `release-lambda`) is
//! cross-built for `provided.al2023` with cargo-lambda and zig (both from PyPI, installed into
//! `.venv-lambda` from `requirements-lambda.txt`), and zipped reproducibly (one entry, fixed
//! timestamp and mode) at `target/lambda/bootstrap-<architecture>/bootstrap.zip`, next to its
//! sha256. The two architectures do not overwrite each other.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::infra::{Architecture, Overrides, Settings};
use crate::python::LAMBDA;
use crate::util::{cargo, hex, run_checked, target_dir};

#[derive(clap::Args)]
pub struct Args {
    /// Lambda architecture [default: the settings' architecture, arm64 unless set].
    #[arg(long, value_enum)]
    architecture: Option<Architecture>,
    /// The settings file.
    #[arg(long, default_value = "infra/iot-api.toml")]
    config: PathBuf,
}

/// What cargo builds for the function: the bootstrap, with the Lambda profile (small, quick to
/// start; see the workspace's Cargo.toml).
pub const BOOTSTRAP: [&str; 7] = [
    "--profile",
    "release-lambda",
    "--locked",
    "--package",
    "lambda",
    "--bin",
    "bootstrap",
];

/// A built artifact.
pub struct Artifact {
    pub zip: PathBuf,
    pub sha256: String,
    pub bytes: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load(&Overrides {
        config: args.config,
        architecture: args.architecture,
        ..Overrides::default()
    })?;
    let artifact = build(settings.architecture)?;
    println!(
        "{}\nsha256 {}\n{} bytes",
        artifact.zip.display(),
        artifact.sha256,
        artifact.bytes
    );
    Ok(())
}

fn rust_target(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
    }
}

/// Builds and zips the bootstrap for `architecture`.
pub fn build(architecture: Architecture) -> anyhow::Result<Artifact> {
    let target = rust_target(architecture);
    add_rust_target(target)?;
    let venv = LAMBDA.install()?;
    // cargo finds the cargo-lambda subcommand, and cargo-lambda finds zig, on this PATH.
    let mut path = std::ffi::OsString::from(venv.bin_dir());
    if let Some(rest) = std::env::var_os("PATH") {
        path.push(":");
        path.push(rest);
    }
    run_checked(
        cargo()
            .args(["lambda", "build"])
            .args(BOOTSTRAP)
            .args(["--target", target])
            .env("PATH", path),
    )?;
    // cargo-lambda moves the binary to target/lambda/<binary name>/.
    let binary = target_dir()
        .join("lambda")
        .join("bootstrap")
        .join("bootstrap");
    let bytes = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    let zip = reproducible_zip(&bytes)?;
    let sha256 = hex(&Sha256::digest(&zip));
    let dir = artifact_dir(architecture);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bootstrap.zip");
    std::fs::write(&path, &zip).with_context(|| format!("writing {}", path.display()))?;
    std::fs::write(
        dir.join("bootstrap.zip.sha256"),
        format!("{sha256}  bootstrap.zip\n"),
    )?;
    Ok(Artifact {
        zip: path,
        sha256,
        bytes: zip.len(),
    })
}

/// Where the artifact of `architecture` is written.
pub fn artifact_dir(architecture: Architecture) -> PathBuf {
    target_dir()
        .join("lambda")
        .join(format!("bootstrap-{}", architecture.lambda_name()))
}

/// Adds the Rust standard library for `target` with rustup when it is missing.
fn add_rust_target(target: &str) -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup (cross-building needs rustup: https://rustup.rs)")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == target)
    {
        return Ok(());
    }
    run_checked(Command::new("rustup").args(["target", "add", target]))
}

/// `binary` as the only entry of a zip, `bootstrap`, executable, deflated, dated 1980-01-01: the
/// same bytes in give the same bytes out, on any machine and at any time.
pub fn reproducible_zip(binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    zip.write_all(binary)?;
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_zip_is_reproducible_and_holds_an_executable_bootstrap() {
        let binary: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        let first = reproducible_zip(&binary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = reproducible_zip(&binary).unwrap();
        assert_eq!(first, second, "same input, same bytes, a second later");

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, binary);
    }
}
