//! `cargo xtask bench cold-start`: the Lambda bootstrap (built with the `release-lambda` profile) started
//! afresh again and again under the Runtime API emulator of `crates/test-support`, with the
//! AWS backend against a local moto server. Every event is `GET /things/{thingName}`, so every
//! answer includes a round trip to moto.
//!
//! Per process: init (process start to its first `next` call), first response (process start to
//! the first answer), and its peak RSS (VmHWM) after all its events. Over all processes: the warm
//! invocations (event delivered to answer received). And the size of the zipped artifact.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use test_support::runtime_api::RuntimeApi;
use xtask::python::{Moto, DEV};
use xtask::util::{cargo, project_root, run_checked, target_dir};

#[derive(clap::Args)]
pub struct Args {
    /// Fresh processes to start (at least 20).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(20..))]
    runs: u32,
    /// Warm invocations per process, after its first.
    #[arg(long, default_value_t = 50)]
    warm: u32,
}

/// Targets on the 2-core development machine (issue: AWS IoT backend and the Lambda bootstrap).
const INIT_TARGET_MS: f64 = 15.0;
const FIRST_RESPONSE_TARGET_MS: f64 = 30.0;
const RSS_TARGET_MIB: f64 = 30.0;
const ZIP_TARGET_MIB: f64 = 6.0;

const THING: &str = "bench-lamp";

pub fn run(args: Args) -> anyhow::Result<()> {
    run_checked(cargo().arg("build").args(xtask::build::BOOTSTRAP))?;
    let binary = target_dir().join("release-lambda").join("bootstrap");
    let zip_bytes = zipped_size(&binary)?;
    let venv = DEV.install()?;
    let moto = Moto::start(&venv)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // One process that is not measured creates the thing every measured event reads.
        let setup = Process::run(&binary, &moto.url, vec![event("create_thing")?]).await?;
        ensure!(
            setup.statuses == [200],
            "creating {THING} on moto answered {:?}",
            setup.statuses
        );
        let mut processes = Vec::new();
        for n in 0..args.runs {
            let events = (0..=args.warm)
                .map(|_| event("describe_thing"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let process = Process::run(&binary, &moto.url, events).await?;
            ensure!(
                process.statuses.iter().all(|s| *s == 200),
                "process {n} answered {:?}",
                process.statuses
            );
            processes.push(process);
        }
        report(&args, &processes, zip_bytes);
        Ok(())
    })
}

/// An API Gateway event from the lambda crate's fixtures, about the bench's thing.
fn event(fixture: &str) -> anyhow::Result<String> {
    let path = project_root()
        .join("crates/lambda/tests/events")
        .join(format!("{fixture}.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.replace("lamp-1", THING).replace("lamp-2", THING))
}

/// The bytes of `bootstrap` zipped as `cargo xtask build` zips it.
fn zipped_size(binary: &Path) -> anyhow::Result<usize> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    Ok(xtask::build::reproducible_zip(&bytes)?.len())
}

/// What one fresh process did.
struct Process {
    init: Duration,
    first_response: Duration,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
    statuses: Vec<u64>,
}

impl Process {
    /// Starts the bootstrap, feeds it `events`, and stops it once all are answered.
    async fn run(binary: &Path, moto: &str, events: Vec<String>) -> anyhow::Result<Process> {
        let api = RuntimeApi::start().await?;
        let count = events.len();
        for (n, event) in events.into_iter().enumerate() {
            api.push(format!("bench-{n}"), event);
        }
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "iot-api")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCOUNT_ID", "000000000000")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_ENDPOINT_URL", moto)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let answered = api.wait_for(count, Duration::from_secs(60)).await;
        let peak_rss_kib = peak_rss_kib(child.id());
        child.kill()?;
        child.wait()?;
        if !api.init_errors().is_empty() {
            bail!("the bootstrap failed to start: {:?}", api.init_errors());
        }
        ensure!(
            answered,
            "the bootstrap answered fewer than {count} events in 60 s"
        );
        let mut answers = api.answers();
        if let Some(failed) = answers.iter().find(|a| a.failed) {
            bail!("the bootstrap failed event {}: {}", failed.id, failed.body);
        }
        answers.sort_by_key(|a| a.answered);
        let first_poll = api
            .first_poll()
            .context("the bootstrap never asked for an event")?;
        let statuses = answers
            .iter()
            .map(|a| {
                serde_json::from_str::<serde_json::Value>(&a.body)
                    .ok()
                    .and_then(|v| v["statusCode"].as_u64())
                    .unwrap_or(0)
            })
            .collect();
        Ok(Process {
            init: first_poll - started,
            first_response: answers[0].answered - started,
            warm: answers[1..]
                .iter()
                .map(|a| a.answered - a.delivered)
                .collect(),
            peak_rss_kib: peak_rss_kib?,
            statuses,
        })
    }
}

/// The peak resident set (VmHWM) of a running process, from `/proc`.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/<pid>/status (Linux only)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/<pid>/status")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p` quantile (0 to 1) of `values`, nearest rank.
fn quantile(values: &mut [Duration], p: f64) -> f64 {
    values.sort();
    let index = ((values.len().saturating_sub(1)) as f64 * p).round() as usize;
    values.get(index).copied().map(ms).unwrap_or(0.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn report(args: &Args, processes: &[Process], zip_bytes: usize) {
    let mut init: Vec<Duration> = processes.iter().map(|p| p.init).collect();
    let mut first: Vec<Duration> = processes.iter().map(|p| p.first_response).collect();
    let mut warm: Vec<Duration> = processes.iter().flat_map(|p| p.warm.clone()).collect();
    let rss_mib = processes.iter().map(|p| p.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0;
    let zip_mib = zip_bytes as f64 / (1024.0 * 1024.0);
    let init_p = [0.5, 0.9, 1.0].map(|p| quantile(&mut init, p));
    let first_p = [0.5, 0.9, 1.0].map(|p| quantile(&mut first, p));
    println!("{}", super::machine());
    println!(
        "Command: `cargo xtask bench cold-start --runs {} --warm {}` ({} fresh processes, {} warm invocations)\n",
        args.runs,
        args.warm,
        processes.len(),
        warm.len()
    );
    println!("Targets are judged on the median; p90 and the worst run show the spread.\n");
    println!("| measure | p50 | p90 | worst | target (p50) | |\n|---|---|---|---|---|---|");
    println!(
        "| init (start to first `next`) | {:.1} ms | {:.1} ms | {:.1} ms | < {INIT_TARGET_MS} ms | {} |",
        init_p[0],
        init_p[1],
        init_p[2],
        verdict(init_p[0] < INIT_TARGET_MS)
    );
    println!(
        "| first response (start to answer, one moto call) | {:.1} ms | {:.1} ms | {:.1} ms | < {FIRST_RESPONSE_TARGET_MS} ms | {} |",
        first_p[0],
        first_p[1],
        first_p[2],
        verdict(first_p[0] < FIRST_RESPONSE_TARGET_MS)
    );
    println!(
        "| warm invocation (event to answer, one moto call) | {:.2} ms | {:.2} ms | {:.2} ms (p99 {:.2} ms) | | |",
        quantile(&mut warm, 0.5),
        quantile(&mut warm, 0.9),
        quantile(&mut warm, 1.0),
        quantile(&mut warm, 0.99)
    );
    println!(
        "| peak RSS (largest VmHWM of any run) | | | {rss_mib:.1} MiB | < {RSS_TARGET_MIB} MiB | {} |",
        verdict(rss_mib < RSS_TARGET_MIB)
    );
    println!(
        "| bootstrap.zip (deflated) | | | {zip_mib:.2} MiB ({zip_bytes} bytes) | < {ZIP_TARGET_MIB} MiB | {} |",
        verdict(zip_mib < ZIP_TARGET_MIB)
    );
}
