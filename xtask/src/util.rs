//! Helpers every command uses: where the repository and the build output are, and running
//! `cargo` and other programs with their command line shown.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The repository root: the parent of this crate. `cargo run` says where the crate is when it
/// starts the binary; the path compiled in (which a build shared between two checkouts through
/// one target directory may have taken from the other) is only the fallback.
pub fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
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

/// `cargo`, as the one running xtask, without the variables `cargo run` set for the program
/// it runs (`CARGO_PKG_NAME` and the like): build scripts that read them (ring's does) would
/// see them change between this build and the outer one, and each would rebuild what the other
/// built.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let per_package = name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref());
        if per_package {
            command.env_remove(name.as_ref());
        }
    }
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

/// Lower-case hexadecimal, as sha256sum prints digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a command ends: success, or its error (with its causes) on standard error and failure.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs this test with the variables `cargo run` gives a program, so the
    /// command must leave them out, and keep the rest of the environment.
    #[test]
    fn nested_cargo_leaves_out_the_per_package_variables_of_the_outer_one() {
        assert!(
            std::env::var_os("CARGO_PKG_NAME").is_some(),
            "not run by cargo"
        );
        let command = super::cargo();
        let removed: Vec<String> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert!(
            removed.contains(&"CARGO_PKG_NAME".to_string()),
            "{removed:?}"
        );
        assert!(
            removed.contains(&"CARGO_MANIFEST_DIR".to_string()),
            "{removed:?}"
        );
        assert!(!removed
            .iter()
            .any(|name| name == "CARGO_TARGET_DIR" || name == "PATH"));
    }
}
