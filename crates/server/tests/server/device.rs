//! The device endpoint through AWS's own SDK for the jobs data plane: device code written for AWS
//! IoT works against the local server unchanged.

use aws_sdk_iotjobsdataplane::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iotjobsdataplane::error::ProvideErrorMetadata;
use aws_sdk_iotjobsdataplane::types::JobExecutionStatus;
use aws_sdk_iotjobsdataplane::Client;

use super::*;

/// The API and the device endpoint on free loopback ports, on one in-memory emulator.
pub(crate) struct Local {
    pub(crate) api: SocketAddr,
    device_addr: SocketAddr,
    device: Client,
    _stop: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn local() -> Local {
    local_with(&["--memory"]).await
}

pub(crate) async fn local_with(args: &[&str]) -> Local {
    local_on(server::apps(&config(args)).unwrap()).await
}

async fn local_on(apps: server::Apps) -> Local {
    let mut stops = Vec::new();
    let mut addrs = Vec::new();
    for app in [apps.api, apps.device] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        stops.push(stop);
    }
    let config = aws_sdk_iotjobsdataplane::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{}", addrs[1]))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .http_client(aws_backend::http_client())
        .build();
    Local {
        api: addrs[0],
        device_addr: addrs[1],
        device: Client::from_conf(config),
        _stop: stops,
    }
}

impl Local {
    pub(crate) async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        super::post_ok(self.api, path, &body).await
    }

    /// `count` things named `<prefix>-<n>`, all in a group named `prefix`.
    async fn group_of(&self, prefix: &str, count: usize) {
        self.post(
            "/thing-groups",
            serde_json::json!({ "thingGroupName": prefix }),
        )
        .await;
        for n in 1..=count {
            let thing = format!("{prefix}-{n}");
            self.post("/things", serde_json::json!({ "thingName": thing }))
                .await;
            let reply = http(
                self.api,
                Method::PUT,
                &format!("/thing-groups/{prefix}/things/{thing}"),
                &[],
                "",
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    }

    /// A job on the group `group`, with `extra` fields.
    async fn job_on_group(&self, job: &str, group: &str, extra: serde_json::Value) -> Reply {
        let mut body = serde_json::json!({
            "jobId": job,
            "targets": [format!("arn:aws:iot:us-east-1:000000000000:thinggroup/{group}")],
            "document": "{}",
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        http(
            self.api,
            Method::POST,
            "/jobs",
            &[("content-type", "application/json")],
            &body.to_string(),
        )
        .await
    }

    async fn counts(&self, job: &str) -> (String, u64, u64) {
        let job = self.get(&format!("/jobs/{job}")).await;
        let details = &job["job"]["jobProcessDetails"];
        (
            job["job"]["status"].as_str().unwrap().to_owned(),
            details["numberOfQueuedThings"].as_u64().unwrap(),
            details["numberOfCanceledThings"].as_u64().unwrap(),
        )
    }

    /// The clock's time, and the whole minute `minutes` after the next whole minute.
    async fn minutes_ahead(&self, minutes: i64) -> (time::OffsetDateTime, time::OffsetDateTime) {
        let now = self.now().await;
        let next = now
            .replace_second(0)
            .unwrap()
            .replace_nanosecond(0)
            .unwrap()
            + time::Duration::minutes(1);
        (now, next + time::Duration::minutes(minutes))
    }

    /// Moves the clock just past `to`.
    async fn advance_past(&self, now: time::OffsetDateTime, to: time::OffsetDateTime) -> u64 {
        self.advance((to - now).whole_seconds() as u64 + 1).await
    }

    /// The clock's time.
    async fn now(&self) -> time::OffsetDateTime {
        let clock = self.get("/_local/clock").await;
        time::OffsetDateTime::parse(
            clock["now"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    async fn status(&self, job: &str, thing: &str) -> String {
        let reply = self.get(&format!("/jobs/{job}/things/{thing}")).await;
        reply["execution"]["status"].as_str().unwrap().to_owned()
    }

    /// Moves the manual clock; how many timed changes that applied.
    pub(crate) async fn advance(&self, seconds: u64) -> u64 {
        let reply = self
            .post(
                "/_local/clock/advance",
                serde_json::json!({ "seconds": seconds }),
            )
            .await;
        let reply: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        reply["applied"].as_u64().unwrap()
    }

    pub(crate) async fn get(&self, path: &str) -> serde_json::Value {
        let reply = http(self.api, Method::GET, path, &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        serde_json::from_str(&reply.body).unwrap()
    }

    /// Things, and a SNAPSHOT job for each job id targeting all of them.
    async fn fleet(&self, things: &[&str], jobs: &[(&str, serde_json::Value)]) {
        for thing in things {
            self.post("/things", serde_json::json!({ "thingName": thing }))
                .await;
        }
        let targets: Vec<String> = things
            .iter()
            .map(|t| format!("arn:aws:iot:us-east-1:000000000000:thing/{t}"))
            .collect();
        for (job, extra) in jobs {
            let mut body = serde_json::json!({
                "jobId": job,
                "targets": targets,
                "document": format!("{{\"firmware\":\"{job}\"}}"),
            });
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            self.post("/jobs", body).await;
        }
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn details(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_device_takes_a_job_from_queued_to_succeeded() {
    let local = local().await;
    local
        .fleet(
            &["lamp-1"],
            &[(
                "fw-2",
                serde_json::json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 60}}),
            )],
        )
        .await;
    let device = &local.device;

    let pending = device
        .get_pending_job_executions()
        .thing_name("lamp-1")
        .send()
        .await
        .unwrap();
    assert!(pending.in_progress_jobs().is_empty());
    let queued = pending.queued_jobs();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].job_id(), Some("fw-2"));
    assert_eq!(queued[0].version_number(), 1);
    assert_eq!(queued[0].execution_number(), Some(1));
    assert!(queued[0].queued_at() > 1_700_000_000, "epoch seconds");

    let started = device
        .start_next_pending_job_execution()
        .thing_name("lamp-1")
        .set_status_details(Some(details(&[("step", "download")])))
        .step_timeout_in_minutes(30)
        .send()
        .await
        .unwrap();
    let execution = started.execution().unwrap();
    assert_eq!(execution.job_id(), Some("fw-2"));
    assert_eq!(execution.status(), Some(&JobExecutionStatus::InProgress));
    assert_eq!(execution.version_number(), 2);
    assert_eq!(execution.job_document(), Some("{\"firmware\":\"fw-2\"}"));
    assert_eq!(
        execution
            .status_details()
            .unwrap()
            .get("step")
            .map(String::as_str),
        Some("download")
    );
    // The step timer (30 min) runs out before the job's in-progress timer (60 min).
    let left = execution.approximate_seconds_before_timed_out().unwrap();
    assert!((1790..=1800).contains(&left), "{left}");

    let next = device
        .describe_job_execution()
        .thing_name("lamp-1")
        .job_id("$next")
        .include_job_document(false)
        .send()
        .await
        .unwrap();
    let next = next.execution().unwrap();
    assert_eq!(next.job_id(), Some("fw-2"));
    assert_eq!(next.job_document(), None);

    let progress = device
        .update_job_execution()
        .thing_name("lamp-1")
        .job_id("fw-2")
        .status(JobExecutionStatus::InProgress)
        .set_status_details(Some(details(&[("step", "install")])))
        .expected_version(2)
        .include_job_execution_state(true)
        .send()
        .await
        .unwrap();
    let state = progress.execution_state().unwrap();
    assert_eq!(state.status(), Some(&JobExecutionStatus::InProgress));
    assert_eq!(state.version_number(), 3);
    assert_eq!(progress.job_document(), None);

    let done = device
        .update_job_execution()
        .thing_name("lamp-1")
        .job_id("fw-2")
        .status(JobExecutionStatus::Succeeded)
        .include_job_document(true)
        .send()
        .await
        .unwrap();
    assert_eq!(done.job_document(), Some("{\"firmware\":\"fw-2\"}"));
    assert!(done.execution_state().is_none());

    let job = local.get("/jobs/fw-2").await;
    assert_eq!(job["job"]["status"], "COMPLETED", "{job}");
    let execution = local.get("/jobs/fw-2/things/lamp-1").await;
    assert_eq!(execution["execution"]["status"], "SUCCEEDED");
    assert_eq!(execution["execution"]["versionNumber"], 4);
    assert_eq!(
        execution["execution"]["statusDetails"]["detailsMap"]["step"], "install",
        "details stay when a report leaves them out"
    );
    let nothing = device
        .start_next_pending_job_execution()
        .thing_name("lamp-1")
        .send()
        .await
        .unwrap();
    assert!(nothing.execution().is_none());
}

#[tokio::test]
async fn pending_lists_in_progress_first_then_queued_oldest_first() {
    let local = local().await;
    let none = serde_json::json!({});
    local
        .fleet(
            &["lamp-1"],
            &[("a", none.clone()), ("b", none.clone()), ("c", none)],
        )
        .await;
    local
        .device
        .update_job_execution()
        .thing_name("lamp-1")
        .job_id("b")
        .status(JobExecutionStatus::InProgress)
        .send()
        .await
        .unwrap();
    let pending = local
        .device
        .get_pending_job_executions()
        .thing_name("lamp-1")
        .send()
        .await
        .unwrap();
    let ids = |list: &[aws_sdk_iotjobsdataplane::types::JobExecutionSummary]| {
        list.iter()
            .map(|s| s.job_id().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(pending.in_progress_jobs()), ["b"]);
    assert_eq!(ids(pending.queued_jobs()), ["a", "c"]);
    let next = local
        .device
        .start_next_pending_job_execution()
        .thing_name("lamp-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        next.execution().unwrap().job_id(),
        Some("b"),
        "the IN_PROGRESS one comes back first, unchanged"
    );
    assert_eq!(next.execution().unwrap().version_number(), 2);
}

#[tokio::test]
async fn refusals_arrive_as_aws_error_types() {
    let local = local().await;
    local
        .fleet(&["lamp-1"], &[("fw", serde_json::json!({}))])
        .await;
    let device = &local.device;
    let update = |status: JobExecutionStatus| {
        device
            .update_job_execution()
            .thing_name("lamp-1")
            .job_id("fw")
            .status(status)
    };

    let stale = update(JobExecutionStatus::InProgress)
        .expected_version(7)
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some("VersionConflictException"));
    assert!(
        stale.message().unwrap().contains("expectedVersion is 7"),
        "{stale:?}"
    );

    let queued = update(JobExecutionStatus::Queued).send().await.unwrap_err();
    assert!(queued
        .as_service_error()
        .unwrap()
        .is_invalid_request_exception());
    assert!(queued.message().unwrap().contains("a device may set only"));

    let step = update(JobExecutionStatus::InProgress)
        .step_timeout_in_minutes(0)
        .send()
        .await
        .unwrap_err();
    assert!(step
        .as_service_error()
        .unwrap()
        .is_invalid_request_exception());
    assert!(step.message().unwrap().starts_with("stepTimeoutInMinutes:"));

    update(JobExecutionStatus::Rejected).send().await.unwrap();
    let terminal = update(JobExecutionStatus::InProgress)
        .send()
        .await
        .unwrap_err();
    assert!(terminal
        .as_service_error()
        .unwrap()
        .is_invalid_state_transition_exception());

    let missing = device
        .describe_job_execution()
        .thing_name("lamp-1")
        .job_id("no-such-job")
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    let nothing_next = device
        .describe_job_execution()
        .thing_name("lamp-1")
        .job_id("$next")
        .send()
        .await
        .unwrap_err();
    assert!(nothing_next
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    let unknown_thing = device
        .get_pending_job_executions()
        .thing_name("ghost")
        .send()
        .await
        .unwrap_err();
    assert!(unknown_thing
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    let bad_name = device
        .get_pending_job_executions()
        .thing_name("no spaces allowed")
        .send()
        .await
        .unwrap_err();
    assert!(
        bad_name.message().unwrap().starts_with("thingName:"),
        "{bad_name:?}"
    );

    let wrong_method = http(
        local.device_addr,
        Method::DELETE,
        "/things/lamp-1/jobs/fw",
        &[],
        "",
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong_method.headers["x-amzn-errortype"],
        "InvalidRequestException"
    );
    assert!(
        wrong_method.body.contains("DELETE is not allowed"),
        "{}",
        wrong_method.body
    );
    let nowhere = http(local.device_addr, Method::GET, "/shadows/lamp-1", &[], "").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.body.contains("/shadows/lamp-1"), "{}", nowhere.body);
}

#[tokio::test]
async fn executions_time_out_when_their_timers_run_out() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local
        .fleet(
            &["lamp-1", "lamp-2", "lamp-3"],
            &[(
                "t",
                serde_json::json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 10}}),
            )],
        )
        .await;
    let device = &local.device;
    let start = |thing: &'static str, step: Option<i32>| {
        device
            .start_next_pending_job_execution()
            .thing_name(thing)
            .set_step_timeout_in_minutes(step.map(i64::from))
            .send()
    };
    start("lamp-1", None).await.unwrap();
    start("lamp-2", Some(3)).await.unwrap();
    start("lamp-3", Some(3)).await.unwrap();

    assert_eq!(local.advance(120).await, 0);
    // -1 stops lamp-3's step timer; its in-progress timer still runs.
    device
        .update_job_execution()
        .thing_name("lamp-3")
        .job_id("t")
        .status(JobExecutionStatus::InProgress)
        .step_timeout_in_minutes(-1)
        .send()
        .await
        .unwrap();
    let left = device
        .describe_job_execution()
        .thing_name("lamp-3")
        .job_id("t")
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.execution()
            .unwrap()
            .approximate_seconds_before_timed_out(),
        Some(480)
    );

    assert_eq!(
        local.advance(120).await,
        1,
        "lamp-2's step timer ran out at 3 minutes"
    );
    assert_eq!(local.status("t", "lamp-2").await, "TIMED_OUT");
    let timed_out = local.get("/jobs/t/things/lamp-2").await;
    assert_eq!(timed_out["execution"]["versionNumber"], 3);
    let queued_at = time::OffsetDateTime::parse(
        timed_out["execution"]["queuedAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ended_at = time::OffsetDateTime::parse(
        timed_out["execution"]["lastUpdatedAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        (ended_at - queued_at).whole_seconds(),
        180,
        "timed out when due, not when noticed"
    );
    assert_eq!(local.status("t", "lamp-1").await, "IN_PROGRESS");
    assert_eq!(local.status("t", "lamp-3").await, "IN_PROGRESS");

    let late = device
        .update_job_execution()
        .thing_name("lamp-2")
        .job_id("t")
        .status(JobExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap_err();
    assert!(late
        .as_service_error()
        .unwrap()
        .is_invalid_state_transition_exception());
    device
        .update_job_execution()
        .thing_name("lamp-1")
        .job_id("t")
        .status(JobExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();

    assert_eq!(
        local.advance(7 * 60).await,
        1,
        "lamp-3's in-progress timer ran out at 10 minutes"
    );
    assert_eq!(local.status("t", "lamp-3").await, "TIMED_OUT");
    let job = local.get("/jobs/t").await;
    assert_eq!(job["job"]["status"], "COMPLETED", "{job}");
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfTimedOutThings"], 2);
    assert_eq!(
        job["job"]["jobProcessDetails"]["numberOfSucceededThings"],
        1
    );
}

#[tokio::test]
async fn only_a_manual_clock_can_be_advanced() {
    let local = local().await;
    let clock = local.get("/_local/clock").await;
    assert_eq!(clock["manual"], false);
    let reply = http(
        local.api,
        Method::POST,
        "/_local/clock/advance",
        &[("content-type", "application/json")],
        r#"{"seconds":60}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(reply.body.contains("system clock"), "{}", reply.body);

    let manual = local_with(&["--memory", "--manual-clock"]).await;
    let before = manual.get("/_local/clock").await;
    assert_eq!(before["manual"], true);
    let reply = http(
        manual.api,
        Method::POST,
        "/_local/clock/advance",
        &[("content-type", "application/json")],
        r#"{"seconds":0}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.body.contains("seconds: must be from 1"),
        "{}",
        reply.body
    );
    manual.advance(3600).await;
    let after = manual.get("/_local/clock").await;
    let parse = |v: &serde_json::Value| {
        time::OffsetDateTime::parse(
            v["now"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!((parse(&after) - parse(&before)).whole_seconds(), 3600);
}

#[tokio::test]
async fn failed_and_timed_out_executions_are_retried_as_configured() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local
        .fleet(
            &["lamp-1", "lamp-2"],
            &[(
                "r",
                serde_json::json!({
                    "timeoutConfig": {"inProgressTimeoutInMinutes": 5},
                    "jobExecutionsRetryConfig": {"criteriaList": [
                        {"failureType": "FAILED", "numberOfRetries": 1},
                        {"failureType": "TIMED_OUT", "numberOfRetries": 1}
                    ]}
                }),
            )],
        )
        .await;
    let device = &local.device;
    let run = |thing: &'static str, status: JobExecutionStatus| async move {
        device
            .start_next_pending_job_execution()
            .thing_name(thing)
            .send()
            .await
            .unwrap();
        device
            .update_job_execution()
            .thing_name(thing)
            .job_id("r")
            .status(status)
            .send()
            .await
            .unwrap();
    };

    run("lamp-1", JobExecutionStatus::Failed).await;
    let retried = local.get("/jobs/r/things/lamp-1").await;
    assert_eq!(retried["execution"]["status"], "QUEUED", "{retried}");
    assert_eq!(retried["execution"]["executionNumber"], 2);
    let first = local.get("/jobs/r/things/lamp-1?executionNumber=1").await;
    assert_eq!(first["execution"]["status"], "FAILED");
    run("lamp-1", JobExecutionStatus::Failed).await;
    let last = local.get("/jobs/r/things/lamp-1").await;
    assert_eq!(last["execution"]["status"], "FAILED", "one retry only");
    assert_eq!(last["execution"]["executionNumber"], 2);

    device
        .start_next_pending_job_execution()
        .thing_name("lamp-2")
        .send()
        .await
        .unwrap();
    assert_eq!(local.advance(6 * 60).await, 1);
    let again = local.get("/jobs/r/things/lamp-2").await;
    assert_eq!(
        again["execution"]["status"], "QUEUED",
        "a timeout is retried too"
    );
    assert_eq!(again["execution"]["executionNumber"], 2);
    let job = local.get("/jobs/r").await;
    assert_eq!(job["job"]["status"], "IN_PROGRESS");
    run("lamp-2", JobExecutionStatus::Succeeded).await;
    let job = local.get("/jobs/r").await;
    assert_eq!(job["job"]["status"], "COMPLETED", "{job}");
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfFailedThings"], 1);
    assert_eq!(
        job["job"]["jobProcessDetails"]["numberOfSucceededThings"],
        1
    );
}

#[tokio::test]
async fn crossing_the_abort_threshold_cancels_the_job_and_its_queued_executions() {
    let local = local().await;
    let things = ["t-1", "t-2", "t-3", "t-4", "t-5", "t-6", "t-7", "t-8"];
    local
        .fleet(
            &things,
            &[(
                "a",
                serde_json::json!({"abortConfig": {"criteriaList": [{
                    "failureType": "FAILED", "action": "CANCEL",
                    "thresholdPercentage": 50, "minNumberOfExecutedThings": 4
                }]}}),
            )],
        )
        .await;
    let device = &local.device;
    let report = |thing: &'static str, status: JobExecutionStatus| {
        device
            .update_job_execution()
            .thing_name(thing)
            .job_id("a")
            .status(status)
            .send()
    };
    report("t-8", JobExecutionStatus::InProgress).await.unwrap();
    report("t-1", JobExecutionStatus::Succeeded).await.unwrap();
    report("t-2", JobExecutionStatus::Failed).await.unwrap();
    report("t-3", JobExecutionStatus::Failed).await.unwrap();
    let job = local.get("/jobs/a").await;
    assert_eq!(
        job["job"]["status"], "IN_PROGRESS",
        "3 executed: below the minimum of 4"
    );
    report("t-4", JobExecutionStatus::Succeeded).await.unwrap();

    let job = local.get("/jobs/a").await;
    assert_eq!(job["job"]["status"], "CANCELED", "{job}");
    assert_eq!(job["job"]["reasonCode"], "ABORT_CRITERIA_MET");
    assert!(
        job["job"]["comment"].as_str().unwrap().contains("2 of 4"),
        "{job}"
    );
    for thing in ["t-5", "t-6", "t-7"] {
        assert_eq!(local.status("a", thing).await, "CANCELED", "{thing}");
    }
    assert_eq!(
        local.status("a", "t-8").await,
        "IN_PROGRESS",
        "a running execution may finish"
    );
    report("t-8", JobExecutionStatus::Succeeded).await.unwrap();
    assert_eq!(local.status("a", "t-8").await, "SUCCEEDED");
}

#[tokio::test]
async fn a_rollout_of_500_things_at_100_per_minute_takes_five_minutes() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local.group_of("fleet", 500).await;
    let created = local
        .job_on_group(
            "wave",
            "fleet",
            serde_json::json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 100}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(local.counts("wave").await, ("IN_PROGRESS".into(), 100, 0));
    for minute in 1..=4u64 {
        assert_eq!(local.advance(60).await, 1, "one rollout window a minute");
        assert_eq!(
            local.counts("wave").await.1,
            100 * (minute + 1),
            "after {minute} minutes"
        );
    }
    assert_eq!(
        local.advance(600).await,
        0,
        "all 500 are out after the fifth window"
    );
    assert_eq!(local.counts("wave").await.1, 500);
}

#[tokio::test]
async fn an_exponential_rollout_grows_by_its_factor_up_to_the_maximum() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local.group_of("ring", 30).await;
    let created = local
        .job_on_group(
            "grow",
            "ring",
            serde_json::json!({"jobExecutionsRolloutConfig": {
                "maximumPerMinute": 10,
                "exponentialRate": {"baseRatePerMinute": 2, "incrementFactor": 2.0,
                                    "rateIncreaseCriteria": {"numberOfNotifiedThings": 2}}
            }}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let mut queued = vec![local.counts("grow").await.1];
    for _ in 0..4 {
        local.advance(60).await;
        queued.push(local.counts("grow").await.1);
    }
    // 2, then 4 (2 notified), 8 (4 more), 10 (capped), and the last 6.
    assert_eq!(queued, [2, 6, 14, 24, 30]);
}

#[tokio::test]
async fn a_scheduled_job_waits_for_its_start_and_stops_at_its_end() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local.group_of("night", 3).await;
    let (now, next_minute) = local.minutes_ahead(0).await;
    let too_soon = local
        .job_on_group(
            "early",
            "night",
            serde_json::json!({"schedulingConfig": {"startTime": rfc3339(next_minute)}}),
        )
        .await;
    assert_eq!(too_soon.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_soon
            .body
            .contains("schedulingConfig.startTime: must be at least 30 minutes from now"),
        "{}",
        too_soon.body
    );

    let start = next_minute + time::Duration::minutes(30);
    let end = start + time::Duration::minutes(30);
    let created = local
        .job_on_group(
            "upgrade",
            "night",
            serde_json::json!({"schedulingConfig": {
                "startTime": rfc3339(start), "endTime": rfc3339(end), "endBehavior": "CANCEL"
            }}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(local.counts("upgrade").await, ("SCHEDULED".into(), 0, 0));
    let pending = local
        .device
        .get_pending_job_executions()
        .thing_name("night-1")
        .send()
        .await
        .unwrap();
    assert!(
        pending.queued_jobs().is_empty(),
        "nothing is out before the start"
    );
    let job = local.get("/jobs/upgrade").await;
    assert_eq!(job["job"]["schedulingConfig"]["endBehavior"], "CANCEL");

    local.advance_past(now, start).await;
    assert_eq!(local.counts("upgrade").await, ("IN_PROGRESS".into(), 3, 0));
    local
        .device
        .start_next_pending_job_execution()
        .thing_name("night-1")
        .send()
        .await
        .unwrap();

    local.advance(30 * 60).await;
    assert_eq!(
        local.counts("upgrade").await,
        ("CANCELED".into(), 0, 2),
        "CANCEL at the end"
    );
    assert_eq!(
        local.status("upgrade", "night-1").await,
        "IN_PROGRESS",
        "without force, a running execution goes on"
    );
}

#[tokio::test]
async fn stop_rollout_at_the_end_leaves_the_rest_unsent() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local.group_of("slow", 35).await;
    let (now, start) = local.minutes_ahead(30).await;
    let created = local
        .job_on_group(
            "trickle",
            "slow",
            serde_json::json!({
                "jobExecutionsRolloutConfig": {"maximumPerMinute": 1},
                "schedulingConfig": {"startTime": rfc3339(start),
                                     "endTime": rfc3339(start + time::Duration::minutes(30)),
                                     "endBehavior": "STOP_ROLLOUT"}
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    local
        .advance_past(now, start + time::Duration::minutes(30))
        .await;
    // One a minute from the start, the window at the end included, then no more.
    assert_eq!(local.counts("trickle").await, ("IN_PROGRESS".into(), 31, 0));
    local.advance(3600).await;
    assert_eq!(local.counts("trickle").await.1, 31);
}

#[tokio::test]
async fn the_timer_loop_applies_what_a_moved_clock_made_due() {
    let apps = server::apps(&config(&["--memory", "--manual-clock"])).unwrap();
    let emulator = apps.emulator.clone();
    let local = local_on(apps).await;
    local
        .fleet(
            &["lamp-1"],
            &[(
                "slow",
                serde_json::json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 1}}),
            )],
        )
        .await;
    local
        .device
        .start_next_pending_job_execution()
        .thing_name("lamp-1")
        .send()
        .await
        .unwrap();
    // The clock moves, but nothing applies what that made due until the loop runs.
    emulator
        .clock()
        .advance(std::time::Duration::from_secs(120));
    assert_eq!(local.status("slow", "lamp-1").await, "IN_PROGRESS");
    let timer = tokio::spawn(server::apply_timed_changes(emulator));
    let mut status = String::new();
    for _ in 0..500 {
        status = local.status("slow", "lamp-1").await;
        if status == "TIMED_OUT" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    timer.abort();
    assert_eq!(status, "TIMED_OUT", "the loop's first round runs at once");
}

#[tokio::test]
async fn force_cancel_at_the_end_cancels_running_executions_too() {
    let local = local_with(&["--memory", "--manual-clock"]).await;
    local.group_of("late", 2).await;
    let (now, start) = local.minutes_ahead(30).await;
    let created = local
        .job_on_group(
            "hard",
            "late",
            serde_json::json!({"schedulingConfig": {
                "startTime": rfc3339(start),
                "endTime": rfc3339(start + time::Duration::minutes(30)),
                "endBehavior": "FORCE_CANCEL"
            }}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    local.advance_past(now, start).await;
    local
        .device
        .start_next_pending_job_execution()
        .thing_name("late-1")
        .send()
        .await
        .unwrap();
    local.advance(30 * 60).await;
    assert_eq!(local.counts("hard").await, ("CANCELED".into(), 0, 2));
    assert_eq!(local.status("hard", "late-1").await, "CANCELED");
    let job = local.get("/jobs/hard").await;
    assert_eq!(job["job"]["forceCanceled"], true);
}
