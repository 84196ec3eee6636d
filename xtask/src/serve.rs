//! `cargo xtask serve`: build the local server and run it in the foreground.

use anyhow::Context;

use xtask::util::{cargo, project_root};

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
    /// Write cargo's timing report of the build (target/cargo-timings/).
    #[arg(long)]
    timings: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    eprintln!(
        "building the local server (crates/server, the emulator, the handlers; on a fresh clone \
         2 to 3 minutes on 2 cores, then seconds)"
    );
    let mut command = cargo();
    command.args(["run", "--package", "server", "--bin", "iot-api-local"]);
    if args.release {
        command.arg("--release");
    }
    if args.timings {
        command.arg("--timings");
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Args;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: Args,
    }

    fn parse(words: &[&str]) -> Args {
        Serve::try_parse_from(std::iter::once("serve").chain(words.iter().copied()))
            .unwrap_or_else(|e| panic!("{words:?}: {e}"))
            .args
    }

    #[test]
    fn the_servers_flags_are_taken_as_typed() {
        let typed = parse(&["--port", "9000", "--memory"]);
        assert_eq!(typed.server_args, ["--port", "9000", "--memory"]);
        assert!(!typed.release);
        let released = parse(&["--release", "--port", "9000"]);
        assert!(released.release);
        assert_eq!(released.server_args, ["--port", "9000"]);
        // The old spelling, after `--`, still works.
        assert_eq!(parse(&["--", "--memory"]).server_args, ["--memory"]);
        assert!(parse(&["--help-server"]).help_server);
    }
}
