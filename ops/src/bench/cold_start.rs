//! `cargo xtask bench cold-start`: the Lambda bootstrap (built with the `release-lambda` profile) started
//! afresh again and again under the Runtime API emulator of `crates/test-support`, with the
//! AWS backend against a local moto server. Every event is `GET /things/{thingName}`, so every
//! answer includes a round trip to moto. The floor (`crates/lambda/examples/floor.rs`, a
//! lambda_http function that answers 200 with no AWS SDK) is built with the same profile and
//! started as often, alternating with the bootstrap, so the two are measured under one load.
//!
//! Per process: init (process start to its first `next` call), first response (process start to
//! the first answer), and its peak RSS (VmHWM) after all its events. Over all processes: the warm
//! invocations (event delivered to answer received). A `DescribeThing` call to moto is timed
//! alone too, from a warm SDK client, to tell the bootstrap's own part of the first response and
//! of a warm invocation from moto's.
//! And the size of the zipped artifact.

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

/// Targets, against the floor measured in the same run (issue: cold start near the floor).
const INIT_TIMES_FLOOR: f64 = 2.0;
const FIRST_RESPONSE_TIMES_FLOOR: f64 = 2.0;
const RSS_TIMES_FLOOR: f64 = 2.5;
const ZIP_TARGET_MIB: f64 = 5.0;
const WARM_OVERHEAD_TARGET_MS: f64 = 0.5;

const THING: &str = "bench-lamp";

pub fn run(args: Args) -> anyhow::Result<()> {
    run_checked(cargo().arg("build").args(xtask::build::BOOTSTRAP))?;
    run_checked(cargo().args([
        "build",
        "--profile",
        "release-lambda",
        "--locked",
        "--package",
        "lambda",
        "--example",
        "floor",
    ]))?;
    let binary = target_dir().join("release-lambda").join("bootstrap");
    let floor = target_dir()
        .join("release-lambda")
        .join("examples")
        .join("floor");
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
        let mut floors = Vec::new();
        for n in 0..args.runs {
            for (program, runs) in [(&binary, &mut processes), (&floor, &mut floors)] {
                let events = (0..=args.warm)
                    .map(|_| event("describe_thing"))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let process = Process::run(program, &moto.url, events).await?;
                ensure!(
                    process.statuses.iter().all(|s| *s == 200),
                    "{} process {n} answered {:?}",
                    program.display(),
                    process.statuses
                );
                runs.push(process);
            }
        }
        let moto_alone = moto_call_alone(&moto.url, args.warm as usize * 4).await?;
        report(&args, &processes, &floors, moto_alone, zip_bytes);
        Ok(())
    })
}

/// The p50 of `count` `DescribeThing` calls to moto from a warm SDK client: the backend call the
/// bootstrap makes for each event, without the bootstrap.
async fn moto_call_alone(moto: &str, count: usize) -> anyhow::Result<f64> {
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(aws_sdk_iot::config::BehaviorVersion::latest())
        .region(aws_sdk_iot::config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .http_client(aws_backend::http_client())
        .credentials_provider(aws_sdk_iot::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .build();
    let client = aws_sdk_iot::Client::from_conf(config);
    let mut times = Vec::with_capacity(count);
    for _ in 0..=count {
        let started = Instant::now();
        client
            .describe_thing()
            .thing_name(THING)
            .send()
            .await
            .context("DescribeThing on moto")?;
        times.push(started.elapsed());
    }
    // The first call opens the connection; the bootstrap's warm calls reuse theirs.
    times.remove(0);
    Ok(quantile(&mut times, 0.5))
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
        let peak_rss_kib = super::memory_kib(child.id(), "VmHWM");
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

/// The p50 of init and first response, the largest peak RSS, and the warm p50 of a set of runs.
struct Summary {
    init: [f64; 3],
    first: [f64; 3],
    rss_mib: f64,
    warm: [f64; 4],
}

fn summary(processes: &[Process]) -> Summary {
    let mut init: Vec<Duration> = processes.iter().map(|p| p.init).collect();
    let mut first: Vec<Duration> = processes.iter().map(|p| p.first_response).collect();
    let mut warm: Vec<Duration> = processes.iter().flat_map(|p| p.warm.clone()).collect();
    Summary {
        init: [0.5, 0.9, 1.0].map(|p| quantile(&mut init, p)),
        first: [0.5, 0.9, 1.0].map(|p| quantile(&mut first, p)),
        rss_mib: processes.iter().map(|p| p.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
        warm: [0.5, 0.9, 0.99, 1.0].map(|p| quantile(&mut warm, p)),
    }
}

fn report(
    args: &Args,
    processes: &[Process],
    floors: &[Process],
    moto_alone: f64,
    zip_bytes: usize,
) {
    let ours = summary(processes);
    let floor = summary(floors);
    let zip_mib = zip_bytes as f64 / (1024.0 * 1024.0);
    println!("{}", super::machine());
    println!(
        "Command: `cargo xtask bench cold-start --runs {} --warm {}` ({} fresh processes of each, alternating)\n",
        args.runs,
        args.warm,
        processes.len(),
    );
    println!("Targets are judged on the median against the floor's; p90 and the worst run show the spread.\n");
    println!("| measure | bootstrap p50 / p90 / worst | floor p50 / p90 / worst | ratio of p50s | target | |");
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, ours: [f64; 3], floor: [f64; 3], times: f64| {
        let ratio = ours[0] / floor[0];
        println!(
            "| {name} | {:.1} / {:.1} / {:.1} ms | {:.1} / {:.1} / {:.1} ms | {ratio:.2} | at most {times}x | {} |",
            ours[0],
            ours[1],
            ours[2],
            floor[0],
            floor[1],
            floor[2],
            verdict(ratio <= times)
        );
    };
    row(
        "init (start to first `next`)",
        ours.init,
        floor.init,
        INIT_TIMES_FLOOR,
    );
    row(
        "first response (start to answer; the bootstrap calls moto)",
        ours.first,
        floor.first,
        FIRST_RESPONSE_TIMES_FLOOR,
    );
    // The floor answers without a backend; the bootstrap's first answer waits for one moto call,
    // which alone can take as long as the floor's whole first response. Without it, what is left
    // is what the bootstrap itself adds: loading, configuration, clients, TLS roots, routing.
    let first_own = ours.first[0] - moto_alone;
    let first_own_ratio = first_own / floor.first[0];
    println!(
        "| first response less the moto call alone ({moto_alone:.2} ms) | {first_own:.1} ms | {:.1} ms | {first_own_ratio:.2} | | |",
        floor.first[0],
    );
    let rss_ratio = ours.rss_mib / floor.rss_mib;
    println!(
        "| peak RSS (largest VmHWM of any run) | {:.1} MiB | {:.1} MiB | {rss_ratio:.2} | at most {RSS_TIMES_FLOOR}x | {} |",
        ours.rss_mib,
        floor.rss_mib,
        verdict(rss_ratio <= RSS_TIMES_FLOOR)
    );
    // The bootstrap's warm invocation is the runtime's round trip (the floor's whole warm
    // invocation), the moto call, and what the bootstrap adds: routing, its handler, conversions.
    let overhead = ours.warm[0] - floor.warm[0] - moto_alone;
    println!(
        "| warm invocation (event to answer) | {:.2} / {:.2} / {:.2} ms (p99 {:.2}) | {:.2} / {:.2} / {:.2} ms | | | |",
        ours.warm[0], ours.warm[1], ours.warm[3], ours.warm[2], floor.warm[0], floor.warm[1], floor.warm[3]
    );
    println!(
        "| warm overhead: bootstrap p50 - floor p50 - moto call alone ({moto_alone:.2} ms) | {overhead:.2} ms | | | at most {WARM_OVERHEAD_TARGET_MS} ms | {} |",
        verdict(overhead <= WARM_OVERHEAD_TARGET_MS)
    );
    println!(
        "| bootstrap.zip (deflated) | {zip_mib:.2} MiB ({zip_bytes} bytes) | | | under {ZIP_TARGET_MIB} MiB | {} |",
        verdict(zip_mib < ZIP_TARGET_MIB)
    );
}
