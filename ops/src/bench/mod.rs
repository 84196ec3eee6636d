//! `cargo xtask bench api`: load-tests the release server on this machine, with the load generator
//! in this process, and prints the figures as Markdown for BENCHMARKS.md.
//!
//! Scenarios: `GET /jobs/{jobId}`, the 404 of an unknown path (the floor it is compared with) and
//! `POST /jobs` (10 thing targets) under 64 connections; then
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

use xtask::local_server::{LocalServer, Profile};
use xtask::util::{cargo, run_checked};

pub mod cold_start;
pub mod files;
pub mod first_run;
pub mod fleet;
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
pub(crate) fn prepare() -> anyhow::Result<tokio::runtime::Runtime> {
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
    /// Adds another run of the same scenario.
    fn absorb(&mut self, other: Stats) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.elapsed += other.elapsed;
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
    }

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

/// A process's resident memory in KiB, now (`VmRSS`) or at its peak (`VmHWM`), from /proc
/// (Linux only).
fn memory_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Sends requests over `connections` keep-alive connections until `until`, timing each; any
/// answer but 200 is a failure.
async fn drive(
    addr: SocketAddr,
    connections: usize,
    until: Until,
    make: MakeRequest,
) -> anyhow::Result<Stats> {
    drive_expecting(addr, connections, until, make, StatusCode::OK).await
}

/// [`drive`], counting any answer but `expected` as a failure.
async fn drive_expecting(
    addr: SocketAddr,
    connections: usize,
    until: Until,
    make: MakeRequest,
    expected: StatusCode,
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
                if status != expected {
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

/// The typed client of the server at `addr`, for seeding and reading: the load itself goes over
/// raw keep-alive connections, so the figures are the server's, not a client's.
fn api(addr: SocketAddr) -> client::Client {
    client::connect(&format!("http://{addr}"), client::Signer::None)
}

/// Runs a seeding step through the typed client, 32 calls at a time; every call must succeed.
async fn seed<F, Fut>(api: &client::Client, count: usize, what: &str, call: F) -> anyhow::Result<()>
where
    F: Fn(client::Client, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), client::Error<client::types::Error>>>
        + Send
        + 'static,
{
    if count == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let mut running: tokio::task::JoinSet<Result<(), client::Error<client::types::Error>>> =
        tokio::task::JoinSet::new();
    let mut failures = Vec::new();
    for i in 0..count {
        // At most 32 calls at a time.
        if running.len() == 32 {
            if let Some(Err(e)) = running.join_next().await.transpose()? {
                failures.push(e.to_string());
            }
        }
        running.spawn(call(api.clone(), i));
    }
    while let Some(done) = running.join_next().await {
        if let Err(e) = done? {
            failures.push(e.to_string());
        }
    }
    if let Some(first) = failures.first() {
        bail!(
            "seeding {what}: {} of {count} calls failed; the first: {first}",
            failures.len()
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {count} {what} in {elapsed:.1} s ({:.0}/s)",
        count as f64 / elapsed
    );
    Ok(())
}

/// A job of `targets` (thing names, or ARNs) with a small document.
fn new_job(
    job_id: Option<String>,
    targets: Vec<String>,
) -> impl FnOnce(client::types::builder::CreateJobRequest) -> client::types::builder::CreateJobRequest
{
    move |b| {
        b.job_id(job_id.map(|id| id.parse().expect("a valid job id")))
            .targets(
                targets
                    .iter()
                    .map(|t| t.parse().expect("a valid target"))
                    .collect::<Vec<_>>(),
            )
            .document(Some(
                r#"{"operation":"update"}"#.parse().expect("a JSON document"),
            ))
    }
}

fn things_body(range: std::ops::Range<usize>) -> String {
    let targets: Vec<String> = range.map(|i| format!("t-{i}")).collect();
    serde_json::json!({ "targets": targets, "document": "{\"operation\":\"update\"}" }).to_string()
}

async fn throughput(addr: SocketAddr, args: &Args) -> anyhow::Result<()> {
    let api = api(addr);
    seed(&api, 10, "things", |api, i| async move {
        api.create_thing()
            .body_map(|b| b.thing_name(format!("t-{i}")))
            .send()
            .await
            .map(drop)
    })
    .await?;
    seed(&api, 1, "job", |api, _| async move {
        let targets = (0..10).map(|i| format!("t-{i}")).collect();
        api.create_job()
            .body_map(new_job(Some("bench-get".into()), targets))
            .send()
            .await
            .map(drop)
    })
    .await?;
    let run = Until::Elapsed(Duration::from_secs(args.seconds));
    let get = drive(
        addr,
        args.connections,
        run,
        Arc::new(|_| (Method::GET, "/jobs/bench-get".into(), None)),
    )
    .await?;
    // The floor of this server and load generator: a path no route serves, answered 404 with a
    // JSON error by the router's fallback, with nothing read.
    let run = Until::Elapsed(Duration::from_secs(args.seconds));
    let floor = drive_expecting(
        addr,
        args.connections,
        run,
        Arc::new(|_| (Method::GET, "/no-such-route".into(), None)),
        StatusCode::NOT_FOUND,
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
    println!(
        "{}",
        floor.row("`GET /no-such-route` (404, the router's fallback)")
    );
    println!("{}\n", post.row("`POST /jobs` (10 thing targets)"));
    let ratio = get.per_second() / floor.per_second();
    println!(
        "`GET /jobs/{{jobId}}` answers {:.0}% of the 404 route's requests/s, p99 {:.2} ms (target: at least 50%, p99 under 5 ms: {}).\n",
        ratio * 100.0,
        get.percentile_ms(0.99),
        if ratio >= 0.5 && get.percentile_ms(0.99) < 5.0 { "met" } else { "not met" }
    );
    Ok(())
}

/// A `nextToken` about nine tenths of the way through a list, read 250 items a page by `page`,
/// which reads the page after a token and returns the next one.
async fn deep_token<F, Fut>(rows: usize, page: F) -> anyhow::Result<String>
where
    F: Fn(Option<client::types::NextToken>) -> Fut,
    Fut: std::future::Future<
        Output = Result<Option<client::types::NextToken>, client::Error<client::types::Error>>,
    >,
{
    let mut token = None;
    for _ in 0..(rows * 9 / 10 / 250).max(1) {
        token = Some(page(token).await?.context("the list ended early")?);
    }
    Ok(token.map(|t| t.to_string()).unwrap_or_default())
}

async fn lists(addr: SocketAddr, args: &Args) -> anyhow::Result<()> {
    if args.small == 0 || args.large <= args.small {
        bail!("--large must be greater than --small, and --small above 0");
    }
    let api = api(addr);
    seed(&api, 1, "group", |api, _| async move {
        api.create_thing_group()
            .body_map(|b| b.thing_group_name("fleet"))
            .send()
            .await
            .map(drop)
    })
    .await?;
    let mut rows_done = 0;
    let mut results = Vec::new();
    for rows in [args.small, args.large] {
        let offset = rows_done;
        let count = rows - rows_done;
        seed(&api, count, "things", |api, i| async move {
            api.create_thing()
                .body_map(|b| b.thing_name(format!("t-{}", offset + i)))
                .send()
                .await
                .map(drop)
        })
        .await?;
        seed(&api, count, "group members", |api, i| async move {
            api.add_thing_to_thing_group()
                .thing_group_name("fleet")
                .thing_name(format!("t-{}", offset + i))
                .send()
                .await
                .map(drop)
        })
        .await?;
        seed(&api, count, "jobs", |api, i| async move {
            api.create_job()
                .body_map(new_job(None, vec![format!("t-{}", offset + i)]))
                .send()
                .await
                .map(drop)
        })
        .await?;
        let status_job = format!("status-{rows}");
        let group = "arn:aws:iot:us-east-1:000000000000:thinggroup/fleet".to_owned();
        let job = Some(status_job.clone());
        seed(&api, 1, "group job", move |api, _| {
            let (job, group) = (job.clone(), group.clone());
            async move {
                api.create_job()
                    .body_map(new_job(job, vec![group]))
                    .send()
                    .await
                    .map(drop)
            }
        })
        .await?;
        rows_done = rows;
        let status_path = format!("/jobs/{status_job}/status");
        let jobs_token = deep_token(rows, |token| {
            let mut call = api.list_jobs().max_results(250u64);
            if let Some(token) = token {
                call = call.next_token(token);
            }
            async move { Ok(call.send().await?.into_inner().next_token) }
        })
        .await?;
        let status_token = deep_token(rows, |token| {
            let mut call = api
                .list_job_executions_for_job()
                .job_id(status_job.as_str())
                .max_results(250u64);
            if let Some(token) = token {
                call = call.next_token(token);
            }
            async move { Ok(call.send().await?.into_inner().next_token) }
        })
        .await?;
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
