//! `cargo xtask fleet`: a simulated fleet, to rehearse a rollout. `fleet create` registers N
//! things through the API (a thing type, attributes, one static group holding them all, and a
//! classic shadow each), many calls at a time; `fleet play` plays them as devices, many at
//! once, on the jobs data plane through AWS's SDK: each takes its next execution, reports
//! progress, ends it SUCCEEDED, FAILED or REJECTED at the odds it is given, and reports its new
//! firmware in its shadow, until no device has anything pending. Both show a progress bar and end
//! with a summary. Against the local server by default; with `--stack` (the API) and
//! `--endpoint` (the account's jobs data plane), against AWS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_sdk_iotjobsdataplane::types::JobExecutionStatus;
use aws_smithy_types::error::display::DisplayErrorContext;
use indicatif::{ProgressBar, ProgressStyle};

use crate::api::ApiArgs;
use crate::deploy;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Register the fleet's things through the API: a thing type, one static group holding them
    /// all, and each thing with attributes and a classic shadow. Things that exist are kept.
    Create(CreateArgs),
    /// Play every thing of the fleet as a device until none has a pending job execution.
    Play(PlayArgs),
}

/// Which fleet, and the API it lives behind.
#[derive(clap::Args)]
pub struct FleetArgs {
    /// How many things: PREFIX-0 to PREFIX-(N-1).
    #[arg(long, default_value_t = 1_000)]
    things: usize,
    /// The things' name prefix; their group is PREFIX-fleet and their type PREFIX-device.
    #[arg(long, default_value = "sim", value_parser = prefix)]
    prefix: String,
    /// Calls in flight at once (devices playing at once, for `play`).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    #[command(flatten)]
    api: ApiArgs,
}

fn prefix(text: &str) -> Result<String, String> {
    if text.is_empty()
        || text.len() > 64
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    {
        return Err("1 to 64 characters of [a-zA-Z0-9_-]".into());
    }
    Ok(text.to_owned())
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    fleet: FleetArgs,
}

#[derive(clap::Args)]
pub struct PlayArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// The jobs data plane: the local server's device endpoint, or an account's
    /// (https://<prefix>.jobs.iot.<region>.amazonaws.com, signed with the AWS credentials).
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    endpoint: String,
    /// Odds that a device ends an execution FAILED.
    #[arg(long, default_value_t = 0.02, value_parser = odds)]
    fail: f64,
    /// Odds that a device REJECTS an execution instead of running it.
    #[arg(long, default_value_t = 0.01, value_parser = odds)]
    reject: f64,
    /// IN_PROGRESS reports (statusDetails progress=k/N) before an execution ends.
    #[arg(long, default_value_t = 1)]
    progress_steps: u32,
    /// Milliseconds a device works before each report.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Leave the shadows alone (by default a device that succeeded reports the job document's
    /// `version`, or the job id, as `firmware` in its classic shadow).
    #[arg(long)]
    no_shadow: bool,
}

fn odds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("odds are a number from 0 to 1, got {text:?}")),
    }
}

pub fn run(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::Create(args) => {
                let api = args.fleet.api.client().await?;
                let summary = create(&api, &args.fleet).await?;
                println!("{summary}");
                Ok(())
            }
            Command::Play(args) => {
                let api = args.fleet.api.client().await?;
                let jobs = jobs_client(&args).await?;
                let report = play(&api, &jobs, &args).await?;
                println!("{}", report.summary());
                if report.errors > 0 {
                    bail!(
                        "{} calls failed; the first: {}",
                        report.errors,
                        report.first_error.unwrap_or_default()
                    );
                }
                Ok(())
            }
        }
    })
}

/// The jobs data plane: the local endpoint with placeholder credentials (it checks no
/// signature), or an account's with the AWS credentials.
async fn jobs_client(args: &PlayArgs) -> anyhow::Result<aws_sdk_iotjobsdataplane::Client> {
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|l| args.endpoint.starts_with(l));
    if local {
        return Ok(crate::device::client(&args.endpoint));
    }
    let config = deploy::sdk_config(&args.fleet.api.aws, args.fleet.api.aws.region.clone()).await?;
    let config = aws_sdk_iotjobsdataplane::config::Builder::from(&config)
        .endpoint_url(&args.endpoint)
        .build();
    Ok(aws_sdk_iotjobsdataplane::Client::from_conf(config))
}

impl FleetArgs {
    fn group(&self) -> String {
        format!("{}-fleet", self.prefix)
    }
    fn thing_type(&self) -> String {
        format!("{}-device", self.prefix)
    }
}

const MODELS: [&str; 4] = ["A100", "A200", "B100", "B200"];

fn bar(length: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length as u64).with_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{per_sec}} {{elapsed}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if length == 0 {
        bar.finish();
    }
    bar
}

/// An API error, with what was being done.
fn api_error<E: std::fmt::Debug>(doing: String) -> impl FnOnce(client::Error<E>) -> anyhow::Error {
    move |e| anyhow::anyhow!("{doing}: {e}")
}

/// Whether a create was refused only because the same thing exists already.
fn exists<E>(e: &client::Error<E>) -> bool {
    e.status() == Some(reqwest::StatusCode::CONFLICT)
}

async fn create(api: &client::Client, fleet: &FleetArgs) -> anyhow::Result<String> {
    let started = Instant::now();
    let thing_type = fleet.thing_type();
    match api
        .create_thing_type()
        .body_map(|b| {
            b.thing_type_name(thing_type.clone())
                .searchable_attributes(vec!["model".parse().expect("a valid attribute name")])
        })
        .send()
        .await
    {
        Err(e) if !exists(&e) => {
            return Err(api_error(format!("creating thing type {thing_type}"))(e))
        }
        _ => {}
    }
    let group = fleet.group();
    api.create_thing_group()
        .body_map(|b| b.thing_group_name(group.clone()))
        .send()
        .await
        .map_err(api_error(format!("creating thing group {group}")))?;

    let bar = bar(fleet.things, "things");
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..fleet.concurrency {
        let (api, next, bar) = (api.clone(), Arc::clone(&next), bar.clone());
        let (group, thing_type, prefix, total) = (
            group.clone(),
            thing_type.clone(),
            fleet.prefix.clone(),
            fleet.things,
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(());
                }
                register(&api, &format!("{prefix}-{i}"), i, &group, &thing_type).await?;
                bar.inc(1);
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done? {
            workers.abort_all();
            bar.abandon();
            return Err(e);
        }
    }
    bar.finish();
    let elapsed = started.elapsed().as_secs_f64();
    Ok(format!(
        "{} things of type {thing_type} in group {group}, each with a classic shadow: {elapsed:.1} s ({:.0} things/s)",
        fleet.things,
        fleet.things as f64 / elapsed
    ))
}

/// One thing: registered with its attributes, put in the fleet's group, its shadow reported.
async fn register(
    api: &client::Client,
    name: &str,
    i: usize,
    group: &str,
    thing_type: &str,
) -> anyhow::Result<()> {
    let attributes = [
        ("model", MODELS[i % MODELS.len()].to_owned()),
        ("batch", (i % 10).to_string()),
        ("serial", i.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.parse().expect("a valid attribute value")))
    .collect();
    api.create_thing()
        .body_map(|b| {
            b.thing_name(name)
                .thing_type_name(Some(thing_type.parse().expect("a valid thing type name")))
                .attributes(Some(client::types::Attributes(attributes)))
        })
        .send()
        .await
        .map_err(api_error(format!("creating thing {name}")))?;
    api.add_thing_to_thing_group()
        .thing_group_name(group)
        .thing_name(name)
        .send()
        .await
        .map_err(api_error(format!("adding {name} to {group}")))?;
    let reported = serde_json::json!({"firmware": "1.0.0", "site": format!("site-{}", i % 10), "temp": i % 50});
    api.update_classic_shadow()
        .thing_name(name)
        .body(client::ShadowUpdateRequest {
            reported: Some(reported.as_object().cloned()),
            ..Default::default()
        })
        .send()
        .await
        .map_err(api_error(format!("reporting the shadow of {name}")))?;
    Ok(())
}

/// The calls a device makes, for latency figures.
#[derive(Clone, Copy)]
enum Call {
    StartNext,
    Progress,
    End,
    Shadow,
}

const CALLS: [(Call, &str); 4] = [
    (Call::StartNext, "StartNextPendingJobExecution"),
    (Call::Progress, "UpdateJobExecution (IN_PROGRESS)"),
    (Call::End, "UpdateJobExecution (final)"),
    (Call::Shadow, "shadow update"),
];

/// What the devices did.
#[derive(Default)]
pub struct Report {
    pub devices: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub rejected: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Microseconds, per `CALLS` entry.
    latencies: [Vec<u64>; 4],
}

impl Report {
    pub fn executions(&self) -> usize {
        self.succeeded + self.failed + self.rejected
    }

    fn merge(&mut self, other: Report) {
        self.devices += other.devices;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.rejected += other.rejected;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        for (mine, theirs) in self.latencies.iter_mut().zip(other.latencies) {
            mine.extend(theirs);
        }
    }

    fn error(&mut self, e: anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{e:#}"));
        }
    }

    pub fn summary(&self) -> String {
        let seconds = self.elapsed.as_secs_f64();
        let mut text = format!(
            "{} devices took {} executions to a final state in {seconds:.1} s ({:.0} executions/s): \
             {} SUCCEEDED, {} FAILED, {} REJECTED; {} calls failed\n\n\
             | call | calls | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|\n",
            self.devices,
            self.executions(),
            self.executions() as f64 / seconds.max(f64::EPSILON),
            self.succeeded,
            self.failed,
            self.rejected,
            self.errors
        );
        for ((_, name), latencies) in CALLS.iter().zip(&self.latencies) {
            let mut sorted = latencies.clone();
            sorted.sort_unstable();
            let at = |p: f64| {
                sorted
                    .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
                    .map_or(0.0, |us| *us as f64 / 1000.0)
            };
            text.push_str(&format!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} |\n",
                sorted.len(),
                at(0.5),
                at(0.9),
                at(0.99)
            ));
        }
        text
    }
}

/// A number from 0 to 1 that is the same for the same device, job and execution: the fleet
/// plays a rollout the same way every time it is given the same odds.
fn roll(thing: &str, job: &str, execution: i64) -> f64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: stable across runs, unlike a randomly seeded HashMap's.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    (thing, job, execution).hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

pub async fn play(
    api: &client::Client,
    jobs: &aws_sdk_iotjobsdataplane::Client,
    args: &PlayArgs,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let bar = bar(args.fleet.things, "devices");
    let executions = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let settings = Arc::new(Playbook {
        prefix: args.fleet.prefix.clone(),
        fail: args.fail,
        reject: args.reject,
        steps: args.progress_steps,
        delay: Duration::from_millis(args.delay_ms),
        shadow: !args.no_shadow,
        total: args.fleet.things,
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.fleet.concurrency {
        let (api, jobs, next, bar, executions, settings) = (
            api.clone(),
            jobs.clone(),
            Arc::clone(&next),
            bar.clone(),
            Arc::clone(&executions),
            Arc::clone(&settings),
        );
        workers.spawn(async move {
            let mut report = Report::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= settings.total {
                    return report;
                }
                let thing = format!("{}-{i}", settings.prefix);
                let device = Device {
                    api: &api,
                    jobs: &jobs,
                    thing: &thing,
                    settings: &settings,
                };
                if let Err(e) = device.play(&mut report, &executions).await {
                    report.error(e);
                }
                report.devices += 1;
                bar.inc(1);
                bar.set_message(format!("{} executions", executions.load(Ordering::Relaxed)));
            }
        });
    }
    let mut report = Report::default();
    while let Some(done) = workers.join_next().await {
        report.merge(done.context("a device task failed")?);
    }
    bar.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// How every device plays.
struct Playbook {
    prefix: String,
    fail: f64,
    reject: f64,
    steps: u32,
    delay: Duration,
    shadow: bool,
    total: usize,
}

struct Device<'a> {
    api: &'a client::Client,
    jobs: &'a aws_sdk_iotjobsdataplane::Client,
    thing: &'a str,
    settings: &'a Playbook,
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(
    doing: String,
) -> impl FnOnce(E) -> anyhow::Error {
    move |e| anyhow::anyhow!("{doing}: {}", DisplayErrorContext(&e))
}

impl Device<'_> {
    /// Takes every pending execution of the device to a final state, one after the other.
    async fn play(&self, report: &mut Report, executions: &AtomicUsize) -> anyhow::Result<()> {
        let (thing, steps) = (self.thing, self.settings.steps);
        loop {
            let sent = Instant::now();
            let started = self
                .jobs
                .start_next_pending_job_execution()
                .thing_name(thing)
                .status_details("progress", format!("0/{steps}"))
                .send()
                .await
                .map_err(sdk_error(format!("{thing}: starting its next job")))?;
            report.latencies[Call::StartNext as usize].push(sent.elapsed().as_micros() as u64);
            let Some(execution) = started.execution() else {
                return Ok(());
            };
            let job = execution.job_id().context("the execution names no job")?;
            let mut version = execution.version_number();
            let roll = roll(thing, job, execution.execution_number().unwrap_or(1));
            let outcome = if roll < self.settings.reject {
                JobExecutionStatus::Rejected
            } else if roll < self.settings.reject + self.settings.fail {
                JobExecutionStatus::Failed
            } else {
                JobExecutionStatus::Succeeded
            };
            let update = |status: JobExecutionStatus, progress: String, version: i64| {
                self.jobs
                    .update_job_execution()
                    .thing_name(thing)
                    .job_id(job)
                    .status(status)
                    .status_details("progress", progress)
                    .expected_version(version)
            };
            if outcome != JobExecutionStatus::Rejected {
                for step in 1..=steps {
                    tokio::time::sleep(self.settings.delay).await;
                    let sent = Instant::now();
                    update(
                        JobExecutionStatus::InProgress,
                        format!("{step}/{steps}"),
                        version,
                    )
                    .send()
                    .await
                    .map_err(sdk_error(format!("{thing}: reporting progress on {job}")))?;
                    report.latencies[Call::Progress as usize]
                        .push(sent.elapsed().as_micros() as u64);
                    version += 1;
                }
            }
            tokio::time::sleep(self.settings.delay).await;
            let sent = Instant::now();
            update(outcome.clone(), format!("{steps}/{steps}"), version)
                .send()
                .await
                .map_err(sdk_error(format!("{thing}: ending {job}")))?;
            report.latencies[Call::End as usize].push(sent.elapsed().as_micros() as u64);
            match outcome {
                JobExecutionStatus::Rejected => report.rejected += 1,
                JobExecutionStatus::Failed => report.failed += 1,
                _ => report.succeeded += 1,
            }
            executions.fetch_add(1, Ordering::Relaxed);
            if outcome == JobExecutionStatus::Succeeded && self.settings.shadow {
                let firmware = serde_json::from_str::<serde_json::Value>(
                    execution.job_document().unwrap_or(""),
                )
                .ok()
                .and_then(|d| d.get("version").and_then(|v| v.as_str().map(str::to_owned)))
                .unwrap_or_else(|| job.to_owned());
                let reported = serde_json::json!({ "firmware": firmware });
                let sent = Instant::now();
                self.api
                    .update_classic_shadow()
                    .thing_name(thing)
                    .body(client::ShadowUpdateRequest {
                        reported: Some(reported.as_object().cloned()),
                        ..Default::default()
                    })
                    .send()
                    .await
                    .map_err(api_error(format!("{thing}: reporting firmware {firmware}")))?;
                report.latencies[Call::Shadow as usize].push(sent.elapsed().as_micros() as u64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::testing::local_server;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn parsed(args: &[&str]) -> Command {
        Cli::parse_from(std::iter::once("fleet").chain(args.iter().copied())).command
    }

    /// A small fleet, created twice (the second time keeps what exists), plays a SNAPSHOT job
    /// to its group to the end: every execution is final once, each device's outcome is its
    /// roll at the odds given, the job counts what the devices report, and a device that
    /// succeeded reports the document's version in its shadow.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fleet_plays_a_rollout_to_the_end_with_each_outcome_its_roll() {
        let (url, endpoint) = local_server().await;
        let things = 40;
        let count = things.to_string();
        let Command::Create(create_args) = parsed(&["create", "--url", &url, "--things", &count])
        else {
            panic!("not create");
        };
        let api = create_args.fleet.api.client().await.unwrap();
        create(&api, &create_args.fleet).await.unwrap();
        let again = create(&api, &create_args.fleet).await.unwrap();
        assert!(again.starts_with("40 things"), "{again}");
        api.create_job()
            .body_map(|b| {
                b.job_id(Some("rollout".parse().unwrap()))
                    .targets(vec![
                        "arn:aws:iot:us-east-1:000000000000:thinggroup/sim-fleet"
                            .parse()
                            .unwrap(),
                    ])
                    .document(Some(r#"{"version":"2.0.0"}"#.parse().unwrap()))
            })
            .send()
            .await
            .unwrap();

        let Command::Play(play_args) = parsed(&[
            "play",
            "--url",
            &url,
            "--endpoint",
            &endpoint,
            "--things",
            &count,
            "--concurrency",
            "8",
            "--fail",
            "0.25",
            "--reject",
            "0.25",
            "--progress-steps",
            "2",
        ]) else {
            panic!("not play");
        };
        let jobs = jobs_client(&play_args).await.unwrap();
        let report = play(&api, &jobs, &play_args).await.unwrap();
        assert_eq!(report.errors, 0, "{:?}", report.first_error);
        assert_eq!((report.devices, report.executions()), (things, things));

        let mut expected = [0usize; 3];
        for i in 0..things {
            let roll = roll(&format!("sim-{i}"), "rollout", 1);
            expected[if roll < 0.25 {
                2
            } else if roll < 0.5 {
                1
            } else {
                0
            }] += 1;
        }
        assert_eq!([report.succeeded, report.failed, report.rejected], expected);
        // The odds are seen: forty rolls at one in four each leave none of the three empty.
        assert!(expected.iter().all(|&n| n > 0), "{expected:?}");

        let job = api.describe_job().job_id("rollout").send().await.unwrap();
        let details = serde_json::to_value(&job.into_inner().job.job_process_details).unwrap();
        let counted = [
            "numberOfSucceededThings",
            "numberOfFailedThings",
            "numberOfRejectedThings",
        ]
        .map(|k| details[k].as_u64().unwrap_or_default() as usize);
        assert_eq!(counted, expected, "{details}");
        assert_eq!(
            details["numberOfQueuedThings"].as_u64().unwrap_or_default(),
            0
        );

        let succeeded = (0..things)
            .map(|i| format!("sim-{i}"))
            .find(|t| roll(t, "rollout", 1) >= 0.5)
            .unwrap();
        let shadow = api
            .get_classic_shadow()
            .thing_name(succeeded.as_str())
            .send()
            .await
            .unwrap();
        let shadow = serde_json::to_value(shadow.into_inner()).unwrap();
        let reported = &shadow["thingShadow"]["state"]["reported"];
        assert_eq!(reported["firmware"], "2.0.0", "{shadow}");
    }
}
