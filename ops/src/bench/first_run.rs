//! `cargo xtask bench first-run`: what a newcomer waits for on this machine. A clone of the
//! repository's HEAD with an empty target directory runs `cargo xtask serve` until the server
//! answers; a second clone-and-empty-target runs `cargo xtask test`, then `cargo xtask test` once
//! more with nothing changed, which must redo no build, install or generation. Prints the times and
//! the slowest units of cargo's timing reports as Markdown for BENCHMARKS.md.
//!
//! Crates and Python packages come from the machine's download caches when they are there, so a
//! machine that never fetched them waits for the network besides.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use xtask::util::{project_root, run_checked};

#[derive(clap::Args)]
pub struct Args {
    /// Where the clones and their target directories go [default: a new folder in the temp
    /// directory]; removed at the end unless given.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Measure `cargo xtask serve` only.
    #[arg(long)]
    serve_only: bool,
}

/// Slowest compilation units shown per timing report.
const SLOWEST: usize = 8;

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = project_root();
    let uncommitted = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(&root)
        .output()
        .context("running git status")?;
    if !uncommitted.stdout.is_empty() {
        eprintln!("note: uncommitted changes are not measured; the clones have HEAD");
    }
    let keep = args.work.is_some();
    let work = args.work.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("iot-api-first-run-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work)?;
    println!("{}", super::machine());
    println!(
        "Command: `cargo xtask bench first-run`{}\n",
        if args.serve_only { " --serve-only" } else { "" }
    );

    let serve = Fresh::clone(&root, &work, "serve")?;
    let served = serve.time_to_serve()?;
    println!("| step | time |\n|---|---|");
    println!(
        "| `cargo xtask serve`, fresh clone and empty target directory, until the API answers | {} |",
        minutes(served)
    );
    let mut reports = vec![("cargo xtask serve", serve.timing_reports()?)];
    if !args.serve_only {
        let test = Fresh::clone(&root, &work, "test")?;
        let cold = test.time_test("test-cold.log", &["--timings"])?;
        println!(
            "| `cargo xtask test`, fresh clone and empty target directory | {} |",
            minutes(cold)
        );
        let again = test.time_test("test-again.log", &[])?;
        let redone = redone_work(&std::fs::read_to_string(test.dir.join("test-again.log"))?);
        println!(
            "| `cargo xtask test` again, nothing changed | {} ({}) |",
            minutes(again),
            if redone.is_empty() {
                "no build, install or generation redone".to_owned()
            } else {
                format!("redone: {}", redone.join("; "))
            }
        );
        reports.push(("cargo xtask test", test.timing_reports()?));
    }
    for (command, units) in reports {
        println!("\n{}", summary(command, &units));
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

/// A clone of HEAD with its own, empty target directory.
struct Fresh {
    dir: PathBuf,
    repo: PathBuf,
    target: PathBuf,
}

impl Fresh {
    fn clone(root: &Path, work: &Path, name: &str) -> anyhow::Result<Fresh> {
        let dir = work.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let repo = dir.join("repo");
        run_checked(
            Command::new("git")
                .args(["clone", "--quiet"])
                .arg(root)
                .arg(&repo),
        )?;
        Ok(Fresh {
            target: dir.join("target"),
            dir,
            repo,
        })
    }

    fn cargo(&self) -> Command {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(&self.repo)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_TERM_COLOR", "never");
        command
    }

    /// From nothing built to the first answer of `GET /things`. The `xtask` build goes first, on
    /// its own, so that cargo writes a timing report of it too.
    fn time_to_serve(&self) -> anyhow::Result<Duration> {
        let log = std::fs::File::create(self.dir.join("serve.log"))?;
        let start = Instant::now();
        eprintln!(
            "building xtask and the server from nothing in {}",
            self.repo.display()
        );
        let status = self
            .cargo()
            .args(["build", "--locked", "--package", "xtask", "--timings"])
            .stdout(Stdio::null())
            .stderr(log.try_clone()?)
            .status()?;
        if !status.success() {
            bail!(
                "building xtask failed; see {}",
                self.dir.join("serve.log").display()
            );
        }
        let mut serve = self
            .cargo()
            .args([
                "xtask",
                "serve",
                "--timings",
                "--port",
                "0",
                "--device-port",
                "0",
            ])
            .arg("--memory")
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting cargo xtask serve")?;
        let group = serve.id();
        let stdout = serve.stdout.take().context("no stdout")?;
        let listening = BufReader::new(stdout).lines().find_map(|line| {
            line.ok()?
                .strip_prefix("Listening on http://")
                .map(str::to_owned)
        });
        let answered = listening
            .context("cargo xtask serve ended before listening; see serve.log")
            .and_then(|addr| get_things(&addr));
        let elapsed = start.elapsed();
        // cargo, xtask and the server share the process group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{group}")])
            .status();
        let _ = serve.wait();
        answered?;
        Ok(elapsed)
    }

    /// `cargo xtask test` with `extra` flags, its output in `log`; it must pass.
    fn time_test(&self, log: &str, extra: &[&str]) -> anyhow::Result<Duration> {
        let path = self.dir.join(log);
        let file = std::fs::File::create(&path)?;
        eprintln!(
            "cargo xtask test {} in {}",
            extra.join(" "),
            self.repo.display()
        );
        let start = Instant::now();
        let status = self
            .cargo()
            .args(["xtask", "test"])
            .args(extra)
            .stdout(file.try_clone()?)
            .stderr(file)
            .status()?;
        let elapsed = start.elapsed();
        if !status.success() {
            bail!("cargo xtask test failed; see {}", path.display());
        }
        Ok(elapsed)
    }

    /// The units of every cargo timing report written under this clone's target directory.
    fn timing_reports(&self) -> anyhow::Result<Vec<Unit>> {
        let dir = self.target.join("cargo-timings");
        let mut units = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // cargo writes each report twice: stamped, and as cargo-timing.html.
            if name.starts_with("cargo-timing-") && name.ends_with(".html") {
                units.extend(units_of(&std::fs::read_to_string(&path)?)?);
            }
        }
        Ok(units)
    }
}

/// `GET /things` on the server at `addr` must answer 200.
fn get_things(addr: &str) -> anyhow::Result<()> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /things HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    if !reply.starts_with("HTTP/1.1 200") {
        bail!("GET /things answered {:?}", reply.lines().next());
    }
    Ok(())
}

/// The lines of a second `cargo xtask test` that show work done again.
fn redone_work(log: &str) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|line| {
            line.starts_with("Compiling ")
                || line.starts_with("installing ")
                || line.contains("openapi-generator-cli\" \"generate\"")
        })
        .map(str::to_owned)
        .collect()
}

/// One compilation unit of a timing report.
#[derive(Debug, PartialEq)]
struct Unit {
    name: String,
    target: String,
    start: f64,
    duration: f64,
}

/// The units of a cargo timing report, from the `UNIT_DATA` array its page script holds.
fn units_of(html: &str) -> anyhow::Result<Vec<Unit>> {
    let data = html
        .split_once("const UNIT_DATA = ")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split_once(";\n"))
        .map(|(data, _)| data)
        .context("no UNIT_DATA in the timing report (did cargo change its format?)")?;
    let values: Vec<serde_json::Value> = serde_json::from_str(data)?;
    values
        .iter()
        .map(|unit| {
            let text = |key: &str| unit[key].as_str().unwrap_or("").to_owned();
            let number = |key: &str| unit[key].as_f64().context("a unit without times");
            Ok(Unit {
                name: format!("{} {}", text("name"), text("version")),
                target: text("target").trim().to_owned(),
                start: number("start")?,
                duration: number("duration")?,
            })
        })
        .collect()
}

/// Markdown: the compile time summed over units and the slowest units.
fn summary(command: &str, units: &[Unit]) -> String {
    let total: f64 = units.iter().map(|u| u.duration).sum();
    let mut slowest: Vec<&Unit> = units.iter().collect();
    slowest.sort_by(|a, b| b.duration.total_cmp(&a.duration));
    let mut text = format!(
        "`{command}`, cargo `--timings`: {} units, {} of compiler time over all cores.\n\n\
         | slowest units | target | seconds |\n|---|---|---|",
        units.len(),
        minutes(Duration::from_secs_f64(total))
    );
    for unit in slowest.into_iter().take(SLOWEST) {
        text.push_str(&format!(
            "\n| {} | {} | {:.1} |",
            unit.name,
            if unit.target.is_empty() {
                "lib"
            } else {
                &unit.target
            },
            unit.duration
        ));
    }
    text
}

/// `m:ss`.
fn minutes(d: Duration) -> String {
    let seconds = d.as_secs_f64().round() as u64;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timing_reports_units_are_read_from_its_script() {
        let html =
            "<script>\nconst UNIT_DATA = [{\"i\":0,\"name\":\"aws-sdk-iot\",\"version\":\"1.2.3\",\
                    \"mode\":\"todo\",\"target\":\"\",\"start\":1.5,\"duration\":300.25},\
                    {\"i\":1,\"name\":\"server\",\"version\":\"0.1.0\",\"mode\":\"todo\",\
                    \"target\":\" bin \\\"iot-api-local\\\"\",\"start\":302.0,\"duration\":4.0}];\n\
                    const CONCURRENCY_DATA = [];\n</script>";
        let units = units_of(html).unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].name, "aws-sdk-iot 1.2.3");
        assert_eq!(units[1].target, "bin \"iot-api-local\"");
        let text = summary("cargo xtask test", &units);
        assert!(text.contains("2 units, 5:04 of compiler time"), "{text}");
        assert!(
            text.contains("| aws-sdk-iot 1.2.3 | lib | 300.2 |"),
            "{text}"
        );
        assert!(units_of("<html></html>").is_err());
    }

    #[test]
    fn a_second_run_that_compiles_or_installs_is_reported() {
        let quiet = "   Finished `dev` profile\n     Running `target/debug/xtask test`\n\
                     generated clients are current in target/contract-clients/ab\n";
        assert!(redone_work(quiet).is_empty());
        let busy = "   Compiling server v0.1.0\ninstalling requirements-dev.txt into x\n";
        assert_eq!(redone_work(busy).len(), 2);
    }

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(minutes(Duration::from_secs(59)), "0:59");
        assert_eq!(minutes(Duration::from_secs_f64(754.6)), "12:35");
    }
}
