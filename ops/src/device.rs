//! `cargo xtask device`: a device for people. It takes the thing's next pending job from the jobs
//! data plane (the local server's device endpoint, or any other), downloads the firmware files
//! its document lists and checks each one's checksum, reports progress, and ends the job the way
//! it is told (FAILED, with the reason, when a file does not match), printing each step. It
//! speaks through AWS's own SDK for the data plane, as device code would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_sdk_iotjobsdataplane::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iotjobsdataplane::types::JobExecutionStatus;
use aws_sdk_iotjobsdataplane::Client;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::transfer;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("outcome").multiple(false))]
pub struct Args {
    /// The thing this device is.
    thing_name: String,
    /// End the job SUCCEEDED (the default).
    #[arg(long, group = "outcome")]
    succeed: bool,
    /// End the job FAILED.
    #[arg(long, group = "outcome")]
    fail: bool,
    /// REJECT the job instead of running it.
    #[arg(long, group = "outcome")]
    reject: bool,
    /// Progress reports (IN_PROGRESS, statusDetails progress=k/N) before the end.
    #[arg(long, default_value_t = 3)]
    progress_steps: u32,
    /// The jobs data-plane endpoint: the local server's device endpoint unless told otherwise.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    endpoint: String,
    /// Where the job's files are downloaded to (default: a directory for this thing under the
    /// system's temporary directory).
    #[arg(long, value_name = "DIR")]
    downloads: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let outcome = if args.fail {
        JobExecutionStatus::Failed
    } else if args.reject {
        JobExecutionStatus::Rejected
    } else {
        JobExecutionStatus::Succeeded
    };
    let client = client(&args.endpoint);
    let downloads = args.downloads.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("iot-api-device-{}", args.thing_name))
    });
    let device = Device {
        client: &client,
        thing: &args.thing_name,
        downloads: &downloads,
    };
    tokio::runtime::Runtime::new()?.block_on(device.drive(
        outcome,
        args.progress_steps,
        &mut |line| println!("{line}"),
    ))
}

/// One device: its data plane client, its thing, and where it keeps downloaded files.
pub struct Device<'a> {
    pub client: &'a Client,
    pub thing: &'a str,
    pub downloads: &'a Path,
}

/// A file a job document lists, as `POST /jobs` with `files` writes it.
struct ListedFile {
    id: String,
    url: String,
    checksum: String,
    checksum_type: String,
}

/// The files a job document lists under `files`, if it is JSON that has them.
fn listed_files(document: &str) -> anyhow::Result<Vec<ListedFile>> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(document) else {
        return Ok(Vec::new());
    };
    let Some(files) = value.get("files").and_then(|f| f.as_array()) else {
        return Ok(Vec::new());
    };
    files
        .iter()
        .map(|f| {
            let text = |key: &str| {
                f[key]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("a file of the job document has no {key}: {f}"))
            };
            Ok(ListedFile {
                id: text("fileId")?,
                url: text("url")?,
                checksum: text("checksum")?,
                checksum_type: f["checksumType"].as_str().unwrap_or("sha256").to_owned(),
            })
        })
        .collect()
}

/// A data-plane client for `endpoint`. The local server checks no signature; the credentials
/// only let the SDK sign.
pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_iotjobsdataplane::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "xtask device",
        ))
        .http_client(aws_backend::http_client())
        .build();
    Client::from_conf(config)
}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    doing: String,
) -> impl FnOnce(E) -> anyhow::Error {
    move |e| anyhow::anyhow!("{doing}: {}", DisplayErrorContext(&e))
}

impl Device<'_> {
    /// Downloads the files `document` lists and checks each; the reason of the first that does
    /// not match, if one does not.
    async fn fetch_files(
        &self,
        document: &str,
        say: &mut dyn FnMut(String),
    ) -> anyhow::Result<Option<String>> {
        let files = listed_files(document)?;
        if files.is_empty() {
            return Ok(None);
        }
        std::fs::create_dir_all(self.downloads)
            .with_context(|| format!("creating {}", self.downloads.display()))?;
        let http = transfer::http()?;
        for file in files {
            let destination = self.downloads.join(&file.id);
            let got = match transfer::download(&http, &file.url, &destination, &file.checksum_type)
                .await
            {
                Ok(got) => got,
                Err(e) => return Ok(Some(format!("file {}: {e:#}", file.id))),
            };
            if got.digest != file.checksum {
                return Ok(Some(format!(
                    "file {}: {} is {}, expected {}",
                    file.id, file.checksum_type, got.digest, file.checksum
                )));
            }
            say(format!(
                "{}: downloaded file {} ({} bytes, {} verified) to {}",
                self.thing,
                file.id,
                got.size,
                file.checksum_type,
                destination.display()
            ));
        }
        Ok(None)
    }

    /// Takes the next pending job of the thing to `outcome`, saying what it does.
    pub async fn drive(
        &self,
        outcome: JobExecutionStatus,
        steps: u32,
        say: &mut dyn FnMut(String),
    ) -> anyhow::Result<()> {
        let (client, thing) = (self.client, self.thing);
        let started = client
            .start_next_pending_job_execution()
            .thing_name(thing)
            .set_status_details(Some(HashMap::from([(
                "progress".to_owned(),
                format!("0/{steps}"),
            )])))
            .send()
            .await
            .map_err(failed(format!("starting the next job of {thing}")))?;
        let Some(execution) = started.execution() else {
            say(format!("{thing} has no pending job."));
            return Ok(());
        };
        let job = execution
            .job_id()
            .context("the execution names no job")?
            .to_owned();
        let mut version = execution.version_number();
        say(format!(
            "{thing}: started job {job} (execution {}, version {version})",
            execution.execution_number().unwrap_or(1)
        ));
        say(format!(
            "{thing}: document {}",
            execution.job_document().unwrap_or("(none)")
        ));
        let report = |status: JobExecutionStatus, progress: String, version: i64| {
            client
                .update_job_execution()
                .thing_name(thing)
                .job_id(&job)
                .status(status)
                .status_details("progress", progress)
                .expected_version(version)
                .include_job_execution_state(true)
        };
        if outcome != JobExecutionStatus::Rejected {
            let document = execution.job_document().unwrap_or("");
            if let Some(reason) = self.fetch_files(document, say).await? {
                report(JobExecutionStatus::Failed, format!("0/{steps}"), version)
                    .status_details("reason", reason.clone())
                    .send()
                    .await
                    .map_err(failed(format!("ending job {job}")))?;
                say(format!("{thing}: job {job} FAILED: {reason}"));
                return Ok(());
            }
        }
        if outcome != JobExecutionStatus::Rejected {
            for step in 1..=steps {
                let reply = report(
                    JobExecutionStatus::InProgress,
                    format!("{step}/{steps}"),
                    version,
                )
                .send()
                .await
                .map_err(failed(format!("reporting progress on job {job}")))?;
                version = reply
                    .execution_state()
                    .map(|s| s.version_number())
                    .unwrap_or(version + 1);
                say(format!(
                    "{thing}: job {job} IN_PROGRESS {step}/{steps} (version {version})"
                ));
            }
        }
        let reply = report(outcome.clone(), format!("{steps}/{steps}"), version)
            .send()
            .await
            .map_err(failed(format!("ending job {job}")))?;
        say(format!(
            "{thing}: job {job} {} (version {})",
            outcome.as_str(),
            reply
                .execution_state()
                .map(|s| s.version_number())
                .unwrap_or(version + 1)
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use clap::Parser;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn call(api: &axum::Router, method: Method, path: &str, body: &str) -> serde_json::Value {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let reply = api.clone().oneshot(request).await.unwrap();
        let status = reply.status();
        let bytes = reply.into_body().collect().await.unwrap().to_bytes();
        assert!(status.is_success(), "{path}: {status} {bytes:?}");
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_device_takes_the_next_job_to_the_end_it_is_told() {
        let config = server::Config::parse_from(["iot-api-local", "--memory"]);
        let apps = server::apps(&config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::serve(listener, apps.device, std::future::pending()));
        call(
            &apps.api,
            Method::POST,
            "/things",
            r#"{"thingName":"lamp-1"}"#,
        )
        .await;
        call(
            &apps.api,
            Method::POST,
            "/jobs",
            r#"{"jobId":"fw-3","targets":["arn:aws:iot:us-east-1:000000000000:thing/lamp-1"],"document":"{\"v\":3}"}"#,
        )
        .await;

        let client = client(&endpoint);
        let downloads = std::env::temp_dir().join("iot-api-device-test-lamp-1");
        let device = Device {
            client: &client,
            thing: "lamp-1",
            downloads: &downloads,
        };
        let mut lines = Vec::new();
        device
            .drive(JobExecutionStatus::Failed, 2, &mut |l| lines.push(l))
            .await
            .unwrap();
        assert_eq!(
            lines,
            [
                "lamp-1: started job fw-3 (execution 1, version 2)",
                "lamp-1: document {\"v\":3}",
                "lamp-1: job fw-3 IN_PROGRESS 1/2 (version 3)",
                "lamp-1: job fw-3 IN_PROGRESS 2/2 (version 4)",
                "lamp-1: job fw-3 FAILED (version 5)",
            ]
        );
        let execution = call(&apps.api, Method::GET, "/jobs/fw-3/things/lamp-1", "").await;
        assert_eq!(execution["execution"]["status"], "FAILED");
        assert_eq!(
            execution["execution"]["statusDetails"]["detailsMap"]["progress"],
            "2/2"
        );

        lines.clear();
        device
            .drive(JobExecutionStatus::Succeeded, 2, &mut |l| lines.push(l))
            .await
            .unwrap();
        assert_eq!(lines, ["lamp-1 has no pending job."]);
    }
}
