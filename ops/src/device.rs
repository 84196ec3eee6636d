//! `cargo xtask device`: a device for people. It takes the thing's next pending job from the jobs
//! data plane (the local server's device endpoint, or any other), reports progress, and ends it
//! the way it is told, printing each step. It speaks through AWS's own SDK for the data plane,
//! as device code would.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_iotjobsdataplane::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iotjobsdataplane::types::JobExecutionStatus;
use aws_sdk_iotjobsdataplane::Client;
use aws_smithy_types::error::display::DisplayErrorContext;

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
    tokio::runtime::Runtime::new()?.block_on(drive(
        &client,
        &args.thing_name,
        outcome,
        args.progress_steps,
        &mut |line| println!("{line}"),
    ))
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

/// Takes the next pending job of `thing` to `outcome`, saying what it does.
pub async fn drive(
    client: &Client,
    thing: &str,
    outcome: JobExecutionStatus,
    steps: u32,
    say: &mut dyn FnMut(String),
) -> anyhow::Result<()> {
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
            .send()
    };
    if outcome != JobExecutionStatus::Rejected {
        for step in 1..=steps {
            let reply = report(
                JobExecutionStatus::InProgress,
                format!("{step}/{steps}"),
                version,
            )
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
        let mut lines = Vec::new();
        drive(&client, "lamp-1", JobExecutionStatus::Failed, 2, &mut |l| {
            lines.push(l)
        })
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
        drive(
            &client,
            "lamp-1",
            JobExecutionStatus::Succeeded,
            2,
            &mut |l| lines.push(l),
        )
        .await
        .unwrap();
        assert_eq!(lines, ["lamp-1 has no pending job."]);
    }
}
