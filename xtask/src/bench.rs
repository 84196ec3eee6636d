//! `cargo xtask bench api`: load-tests the release server on this machine, with the load generator
//! in this process, and prints the figures as Markdown for BENCHMARKS.md.
//!
//! Scenarios: `GET /jobs/{jobId}` and `POST /jobs` (10 thing targets) under 64 connections; then
//! list latency of `GET /jobs?maxResults=100` and `GET /jobs/{jobId}/status?maxResults=100` with
//! a small and a large table, on the first page and on a page deep in the list.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};

use crate::local_server::{LocalServer, Profile};
use crate::{cargo, run_checked};

pub mod registry;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds each throughput scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections for the throughput scenarios.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Rows of the small table in the list scenarios.
    #[arg(long, default_value_t = 1_000)]
    small: usize,
    /// Rows of the large table in the list scenarios.
    #[arg(long, default_value_t = 100_000)]
    large: usize,
    /// Only the list scenarios.
    #[arg(long, conflicts_with = "skip_lists")]
    only_lists: bool,
    /// Skip the list scenarios (they seed the large table, which takes minutes).
    #[arg(long)]
    skip_lists: bool,
}

/// Builds the release server and the runtime that drives it, and prints the machine.
fn prepare() -> anyhow::Result<tokio::runtime::Runtime> {
    run_checked(cargo().args([
        "build",
        "--release",
        "--locked",
        "--package",
        "server",
        "--bin",
        "iot-api-local",
    ]))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("{}", machine());
    Ok(runtime)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = prepare()?;
    println!(
        "Command: `cargo xtask bench api` (seconds {}, connections {})\n",
        args.seconds, args.connections
    );
    if !args.only_lists {
        let server = LocalServer::start(Profile::Release)?;
        runtime.block_on(throughput(server.addr, &args))?;
    }
    if !args.skip_lists {
        let server = LocalServer::start(Profile::Release)?;
        runtime.block_on(lists(server.addr, &args))?;
    }
    Ok(())
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("Machine: {cores} cores, {cpu}")
}

/// What each request of a run is: method, path and optional JSON body, from the request's index.
type MakeRequest = Arc<dyn Fn(usize) -> (Method, String, Option<String>) + Send + Sync>;

enum Until {
    Elapsed(Duration),
    Count(usize),
}

struct Stats {
    requests: usize,
    failures: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Stats {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} |",
            self.per_second(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.failures
        )
    }
}

const HEADER: &str =
    "| scenario | requests/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|";

/// Sends requests over `connections` keep-alive connections until `until`, timing each.
async fn drive(
    addr: SocketAddr,
    connections: usize,
    until: Until,
    make: MakeRequest,
) -> anyhow::Result<Stats> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, make) = (Arc::clone(&next), Arc::clone(&make));
        let deadline = match until {
            Until::Elapsed(d) => Some(started + d),
            Until::Count(_) => None,
        };
        let limit = match until {
            Until::Count(n) => n,
            Until::Elapsed(_) => usize::MAX,
        };
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let (mut latencies, mut failures) = (Vec::new(), 0usize);
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= limit {
                    break;
                }
                let (method, path, body) = make(index);
                let mut request = Request::builder()
                    .method(method)
                    .uri(path)
                    .header("host", "bench");
                if body.is_some() {
                    request = request.header("content-type", "application/json");
                }
                let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
                let sent = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                latencies.push(sent.elapsed().as_micros() as u64);
                if status != StatusCode::OK {
                    failures += 1;
                }
            }
            anyhow::Ok((latencies, failures))
        }));
    }
    let mut stats = Stats {
        requests: 0,
        failures: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        let (latencies, failures) = task.await??;
        stats.requests += latencies.len();
        stats.failures += failures;
        stats.latencies_us.extend(latencies);
    }
    stats.elapsed = started.elapsed();
    stats.latencies_us.sort_unstable();
    Ok(stats)
}

async fn get_json(addr: SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", "bench")
        .body(Full::new(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if status != StatusCode::OK {
        bail!(
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Runs a seeding step that must fully succeed.
async fn seed(addr: SocketAddr, count: usize, what: &str, make: MakeRequest) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let stats = drive(addr, 32, Until::Count(count), make).await?;
    if stats.failures > 0 {
        bail!(
            "seeding {what}: {} of {count} requests failed",
            stats.failures
        );
    }
    eprintln!(
        "seeded {count} {what} in {:.1} s ({:.0}/s)",
        stats.elapsed.as_secs_f64(),
        stats.per_second()
    );
    Ok(())
}

fn things_body(range: std::ops::Range<usize>) -> String {
    let targets: Vec<String> = range.map(|i| format!("t-{i}")).collect();
    serde_json::json!({ "targets": targets, "document": "{\"operation\":\"update\"}" }).to_string()
}

async fn throughput(addr: SocketAddr, args: &Args) -> anyhow::Result<()> {
    seed(
        addr,
        10,
        "things",
        Arc::new(|i| {
            (
                Method::POST,
                "/things".into(),
                Some(format!("{{\"thingName\":\"t-{i}\"}}")),
            )
        }),
    )
    .await?;
    let body = serde_json::json!({ "jobId": "bench-get", "targets": (0..10).map(|i| format!("t-{i}")).collect::<Vec<_>>(),
                                   "document": "{}" })
    .to_string();
    seed(
        addr,
        1,
        "job",
        Arc::new(move |_| (Method::POST, "/jobs".into(), Some(body.clone()))),
    )
    .await?;
    let run = Until::Elapsed(Duration::from_secs(args.seconds));
    let get = drive(
        addr,
        args.connections,
        run,
        Arc::new(|_| (Method::GET, "/jobs/bench-get".into(), None)),
    )
    .await?;
    let run = Until::Elapsed(Duration::from_secs(args.seconds));
    let body = things_body(0..10);
    let post = drive(
        addr,
        args.connections,
        run,
        Arc::new(move |_| (Method::POST, "/jobs".into(), Some(body.clone()))),
    )
    .await?;
    println!(
        "### Throughput, {} connections\n\n{HEADER}",
        args.connections
    );
    println!("{}", get.row("`GET /jobs/{jobId}`"));
    println!("{}\n", post.row("`POST /jobs` (10 thing targets)"));
    Ok(())
}

/// A `nextToken` about nine tenths of the way through a list.
async fn deep_token(addr: SocketAddr, path: &str, rows: usize) -> anyhow::Result<String> {
    let pages = rows * 9 / 10 / 250;
    let mut token = String::new();
    for _ in 0..pages.max(1) {
        let separator = if path.contains('?') { '&' } else { '?' };
        let uri = if token.is_empty() {
            format!("{path}{separator}maxResults=250")
        } else {
            format!("{path}{separator}maxResults=250&nextToken={token}")
        };
        let page = get_json(addr, &uri).await?;
        token = page["nextToken"]
            .as_str()
            .context("the list ended early")?
            .to_owned();
    }
    Ok(token)
}

async fn lists(addr: SocketAddr, args: &Args) -> anyhow::Result<()> {
    if args.small == 0 || args.large <= args.small {
        bail!("--large must be greater than --small, and --small above 0");
    }
    let create_group = Arc::new(|_| {
        (
            Method::POST,
            "/thing-groups".into(),
            Some("{\"thingGroupName\":\"fleet\"}".to_owned()),
        )
    });
    seed(addr, 1, "group", create_group).await?;
    let mut rows_done = 0;
    let mut results = Vec::new();
    for rows in [args.small, args.large] {
        let offset = rows_done;
        let make_thing: MakeRequest = Arc::new(move |i| {
            (
                Method::POST,
                "/things".into(),
                Some(format!("{{\"thingName\":\"t-{}\"}}", offset + i)),
            )
        });
        seed(addr, rows - rows_done, "things", make_thing).await?;
        let join: MakeRequest = Arc::new(move |i| {
            (
                Method::PUT,
                format!("/thing-groups/fleet/things/t-{}", offset + i),
                None,
            )
        });
        seed(addr, rows - rows_done, "group members", join).await?;
        let make_job: MakeRequest = Arc::new(move |i| {
            (
                Method::POST,
                "/jobs".into(),
                Some(things_body(offset + i..offset + i + 1)),
            )
        });
        seed(addr, rows - rows_done, "jobs", make_job).await?;
        let status_job = format!("status-{rows}");
        let body = serde_json::json!({ "jobId": status_job, "targets": ["arn:aws:iot:us-east-1:000000000000:thinggroup/fleet"],
                                       "document": "{}" })
        .to_string();
        seed(
            addr,
            1,
            "group job",
            Arc::new(move |_| (Method::POST, "/jobs".into(), Some(body.clone()))),
        )
        .await?;
        rows_done = rows;
        let status_path = format!("/jobs/{status_job}/status");
        let jobs_token = deep_token(addr, "/jobs", rows).await?;
        let status_token = deep_token(addr, &status_path, rows).await?;
        let cases = [
            (
                "`GET /jobs?maxResults=100`, first page",
                "/jobs?maxResults=100".to_owned(),
            ),
            (
                "`GET /jobs?maxResults=100`, deep page",
                format!("/jobs?maxResults=100&nextToken={jobs_token}"),
            ),
            (
                "`GET /jobs/{jobId}/status?maxResults=100`, first page",
                format!("{status_path}?maxResults=100"),
            ),
            (
                "`GET /jobs/{jobId}/status?maxResults=100`, deep page",
                format!("{status_path}?maxResults=100&nextToken={status_token}"),
            ),
        ];
        for (name, path) in cases {
            let run = Until::Elapsed(Duration::from_secs(args.seconds.min(5)));
            let stats = drive(
                addr,
                8,
                run,
                Arc::new(move |_| (Method::GET, path.clone(), None)),
            )
            .await?;
            results.push((rows, name, stats));
        }
    }
    println!("### List latency by table size, 8 connections\n\n| scenario | rows | requests/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|---|");
    for (rows, name, stats) in &results {
        println!(
            "| {name} | {rows} | {:.0} | {:.2} | {:.2} | {} |",
            stats.per_second(),
            stats.percentile_ms(0.5),
            stats.percentile_ms(0.99),
            stats.failures
        );
    }
    println!("\n| scenario | p50 large / small | p99 large / small |\n|---|---|---|");
    let half = results.len() / 2;
    for (small, large) in results[..half].iter().zip(&results[half..]) {
        println!(
            "| {} | {:.2} | {:.2} |",
            small.1,
            large.2.percentile_ms(0.5) / small.2.percentile_ms(0.5),
            large.2.percentile_ms(0.99) / small.2.percentile_ms(0.99)
        );
    }
    Ok(())
}
