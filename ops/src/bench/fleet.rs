//! `cargo xtask bench fleet`: fleet scale on one machine. A release local server, and the
//! optimised `ops` binary as the fleet: search by attribute and by shadow value at a small and a
//! large fleet, dynamic group query changes, a SNAPSHOT job to the whole fleet's group, and the
//! simulated fleet playing that rollout to the end, simulator and server sharing the machine,
//! with the server's peak RSS. Prints the figures, and each target with its verdict, as Markdown.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hyper::Method;

use super::{drive, Until};
use xtask::local_server::{LocalServer, Profile};
use xtask::util::{cargo, run_checked, target_dir};

#[derive(clap::Args)]
pub struct Args {
    /// Things in the large fleet.
    #[arg(long, default_value_t = 100_000)]
    things: usize,
    /// Things in the small fleet, measured first for comparison.
    #[arg(long, default_value_t = 1_000)]
    small: usize,
    /// Seconds each search scenario runs at each fleet size (in turns of one second).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Connections of the search scenarios.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Devices playing at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

/// The two searches the targets name, by attribute and by shadow value: each matches a tenth of
/// the fleet, so each fills its page of 100 at both fleet sizes and the two sizes compare the
/// same work.
const SEARCHES: [(&str, &str); 2] = [
    (
        "by attribute (`attributes.batch:3`)",
        "/things/search?queryString=attributes.batch%3A3&maxResults=100",
    ),
    (
        "by shadow value (`shadow.reported.site:site-3`)",
        "/things/search?queryString=shadow.reported.site%3Asite-3&maxResults=100",
    ),
];

/// Queries a dynamic group is given in turn, over the fleet's reported temperature and batch.
const QUERIES: [&str; 3] = [
    "shadow.reported.temp>45",
    "shadow.reported.temp>40 AND attributes.batch:3",
    "attributes.batch:7 OR shadow.reported.temp<2",
];

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.small == 0 || args.things <= args.small {
        bail!("--things must be greater than --small, and --small above 0");
    }
    // Built apart, as `cargo xtask` builds `ops`, so that neither build changes the features
    // the other's dependencies are compiled with (which would rebuild them).
    let runtime = super::prepare()?;
    run_checked(cargo().args(["build", "--release", "--locked", "--package", "ops"]))?;
    let fleet = target_dir().join("release").join("ops");
    println!(
        "Command: `cargo xtask bench fleet` ({} and {} things, searches {} s on {} connections, {} devices at once)\n",
        args.small, args.things, args.seconds, args.connections, args.concurrency
    );
    // The two fleets live in two servers, and their searches take turns, a second at a time,
    // so that whatever else the machine does in those seconds weighs on both sizes alike.
    let small_server = LocalServer::start(Profile::Release)?;
    eprintln!("{}", create(&fleet, &small_server.url(), args.small)?);
    let server = LocalServer::start(Profile::Release)?;
    let url = server.url();
    eprintln!("{}", create(&fleet, &url, args.things)?);
    let (small, large) = runtime.block_on(searches(small_server.addr, server.addr, &args))?;
    drop(small_server);
    let requery = runtime.block_on(requery(server.addr))?;

    let api = client::connect(&url, client::Signer::None);
    let group = "arn:aws:iot:us-east-1:000000000000:thinggroup/sim-fleet";
    let started = Instant::now();
    runtime
        .block_on(
            api.create_job()
                .body_map(|b| {
                    b.job_id(Some("fleet-rollout".parse().expect("a valid job id")))
                        .targets(vec![group.parse().expect("a valid target")])
                        .document(Some(
                            r#"{"operation":"update","version":"2.0.0"}"#
                                .parse()
                                .expect("a JSON document"),
                        ))
                })
                .send(),
        )
        .map_err(|e| anyhow::anyhow!("creating the rollout's job: {e}"))?;
    let job_created = started.elapsed();

    let started = Instant::now();
    let output = Command::new(&fleet)
        .args(["fleet", "play", "--url", &url])
        .arg("--endpoint")
        .arg(format!("http://{}", server.device_addr))
        .args(["--things", &args.things.to_string()])
        .args(["--concurrency", &args.concurrency.to_string()])
        .output()
        .with_context(|| format!("running {}", fleet.display()))?;
    let rollout = started.elapsed();
    // The kernel's high-water mark covers the server's whole life, the fleet's creation included.
    let peak_rss_mib = super::memory_kib(server.pid(), "VmHWM")? as f64 / 1024.0;
    let played = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "the simulated fleet failed: {}\n{played}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let job = runtime
        .block_on(api.describe_job().job_id("fleet-rollout").send())
        .map_err(|e| anyhow::anyhow!("reading the rollout's job: {e}"))?
        .into_inner();
    let details = serde_json::to_value(&job.job.job_process_details)?;
    let finished: i64 = [
        "numberOfSucceededThings",
        "numberOfFailedThings",
        "numberOfRejectedThings",
    ]
    .iter()
    .filter_map(|k| details[k].as_i64())
    .sum();
    if finished != args.things as i64 {
        bail!(
            "the rollout ended with {finished} of {} executions finished: {details}",
            args.things
        );
    }

    println!(
        "### Search, {} connections\n\n| search | things | requests/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|---|",
        args.connections
    );
    for (fleet_size, stats) in [(args.small, &small), (args.things, &large)] {
        for ((name, _), stats) in SEARCHES.iter().zip(stats.iter()) {
            println!(
                "| {name} | {fleet_size} | {:.0} | {:.2} | {:.2} | {} |",
                stats.per_second(),
                stats.percentile_ms(0.5),
                stats.percentile_ms(0.99),
                stats.failures
            );
        }
    }
    println!(
        "\n### Dynamic group query changes over {} things\n\n| query | ms |\n|---|---|",
        args.things
    );
    for (query, elapsed) in &requery {
        println!("| `{query}` | {:.0} |", elapsed.as_secs_f64() * 1000.0);
    }
    println!(
        "\n### Rollout of a SNAPSHOT job to {} things\n\n{played}",
        args.things
    );
    let slowest_requery = requery.iter().map(|(_, d)| *d).max().unwrap_or_default();
    println!("### Targets\n\n| target | measured | met |\n|---|---|---|");
    let verdict = |met: bool| if met { "yes" } else { "no" };
    for (i, (name, _)) in SEARCHES.iter().enumerate() {
        let (p50_small, p50_large) = (small[i].percentile_ms(0.5), large[i].percentile_ms(0.5));
        println!(
            "| search {name}: p50 at most 5 ms over {} things | {p50_large:.2} ms | {} |",
            args.things,
            verdict(p50_large <= 5.0)
        );
        println!(
            "| search {name}: p50 at most 1.5 times its p50 at {} things | {:.2} times | {} |",
            args.small,
            p50_large / p50_small,
            verdict(p50_large <= 1.5 * p50_small)
        );
    }
    println!(
        "| a dynamic group query change over {} things: at most 1 s | {:.0} ms (slowest) | {} |",
        args.things,
        slowest_requery.as_secs_f64() * 1000.0,
        verdict(slowest_requery <= Duration::from_secs(1))
    );
    println!(
        "| a SNAPSHOT job to {} things created in at most 2 s | {:.2} s | {} |",
        args.things,
        job_created.as_secs_f64(),
        verdict(job_created <= Duration::from_secs(2))
    );
    println!(
        "| every execution final in at most 60 s (the fleet's whole run) | {:.1} s | {} |",
        rollout.as_secs_f64(),
        verdict(rollout <= Duration::from_secs(60))
    );
    println!(
        "| the server's peak RSS under 300 MB throughout (VmHWM) | {peak_rss_mib:.0} MiB | {} |",
        verdict(peak_rss_mib * 1.048_576 < 300.0)
    );
    Ok(())
}

/// Runs `ops fleet create` for `things` things against the server at `url`.
fn create(fleet: &Path, url: &str, things: usize) -> anyhow::Result<String> {
    let output = Command::new(fleet)
        .args([
            "fleet",
            "create",
            "--url",
            url,
            "--things",
            &things.to_string(),
        ])
        .output()
        .with_context(|| format!("running {}", fleet.display()))?;
    if !output.status.success() {
        bail!(
            "creating the fleet failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Each search at both fleet sizes, in turns of one second until each has run `--seconds`.
async fn searches(
    small: SocketAddr,
    large: SocketAddr,
    args: &Args,
) -> anyhow::Result<(Vec<super::Stats>, Vec<super::Stats>)> {
    let mut results: [Vec<super::Stats>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..args.seconds.max(1) {
        for (addr, stats) in [small, large].into_iter().zip(results.iter_mut()) {
            for (i, (_, path)) in SEARCHES.iter().enumerate() {
                let turn = drive(
                    addr,
                    args.connections,
                    Until::Elapsed(Duration::from_secs(1)),
                    Arc::new(move |_| (Method::GET, path.to_string(), None)),
                )
                .await?;
                match stats.get_mut(i) {
                    Some(total) => total.absorb(turn),
                    None => stats.push(turn),
                }
            }
        }
    }
    let [small, large] = results;
    Ok((small, large))
}

/// Creates a dynamic group, then changes its query twice through each of `QUERIES`, timing
/// each change.
async fn requery(addr: SocketAddr) -> anyhow::Result<Vec<(String, Duration)>> {
    let api = super::api(addr);
    api.create_dynamic_thing_group()
        .body_map(|b| b.thing_group_name("sim-watch").query_string(QUERIES[0]))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("creating the dynamic group: {e}"))?;
    let mut timings = Vec::new();
    for query in QUERIES.iter().cycle().skip(1).take(6) {
        let body = serde_json::json!({ "queryString": query }).to_string();
        let stats = drive(
            addr,
            1,
            Until::Count(1),
            Arc::new(move |_| {
                (
                    Method::PUT,
                    "/dynamic-thing-groups/sim-watch".into(),
                    Some(body.clone()),
                )
            }),
        )
        .await?;
        if stats.failures > 0 {
            bail!("changing the dynamic group's query to {query:?} failed");
        }
        let micros = stats.latencies_us.first().copied().unwrap_or_default();
        timings.push((query.to_string(), Duration::from_micros(micros)));
    }
    Ok(timings)
}
