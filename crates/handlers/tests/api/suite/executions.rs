//! Job executions: get, list by job and by thing, cancel, delete.

use models::job::ExecutionStatus;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

async fn app_with_job(things: &[&str]) -> TestApp {
    let app = spawn_app();
    app.create_things(things).await;
    let targets: Vec<String> = things.iter().map(|t| t.to_string()).collect();
    app.create_job("j", &targets, "SNAPSHOT").await;
    app
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: execution numbers and versions differ from AWS"
)]
#[tokio::test]
async fn describe_execution_shows_a_new_queued_execution() {
    let app = app_with_job(&["t"]).await;
    let execution = app.execution("j", "t").await;
    assert_eq!(execution["status"], "QUEUED");
    assert_eq!(execution["executionNumber"], 1);
    assert_eq!(execution["versionNumber"], 1);
    assert_eq!(
        execution["thingArn"],
        "arn:aws:iot:us-east-1:000000000000:thing/t"
    );
    assert_eq!(execution["statusDetails"], json!({"detailsMap": {}}));
    assert!(execution.get("startedAt").is_none());
    app.get("/jobs/j/things/t?executionNumber=1")
        .await
        .assert_ok();
    app.get("/jobs/j/things/t?executionNumber=2")
        .await
        .assert_error(404, "ResourceNotFound", "\"t\"");
    app.get("/jobs/j/things/t?executionNumber=0")
        .await
        .assert_error(422, "ValidationError", "executionNumber");
    app.get("/jobs/j/things/other")
        .await
        .assert_error(404, "ResourceNotFound", "\"other\"");
    app.get("/jobs/nope/things/t")
        .await
        .assert_error(404, "ResourceNotFound", "\"nope\"");
    app.get("/jobs/j/things/a%20b")
        .await
        .assert_error(422, "ValidationError", "thingName");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn device_updates_bump_the_version_and_set_started_at() {
    let app = app_with_job(&["t"]).await;
    app.device_reports("j", "t", ExecutionStatus::InProgress)
        .await;
    let execution = app.execution("j", "t").await;
    assert_eq!(execution["status"], "IN_PROGRESS");
    assert_eq!(execution["versionNumber"], 2);
    assert!(execution["startedAt"].is_string());
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: new jobs are QUEUED, a job status AWS never returns"
)]
#[tokio::test]
async fn cancel_queued_execution_records_status_details() {
    let app = app_with_job(&["t", "u"]).await;
    let reply = app
        .put(
            "/jobs/j/things/t/cancel",
            Some(json!({"statusDetails": {"reason": "operator"}})),
        )
        .await;
    assert_eq!(reply.assert_ok()["canceled"], true);
    let execution = app.execution("j", "t").await;
    assert_eq!(execution["status"], "CANCELED");
    assert_eq!(execution["versionNumber"], 2);
    assert_eq!(
        execution["statusDetails"]["detailsMap"]["reason"],
        "operator"
    );
    assert_eq!(execution["forceCanceled"], false);
    assert_eq!(
        app.job("j").await["status"],
        "IN_PROGRESS",
        "u is still queued"
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn cancel_in_progress_execution_needs_force() {
    let app = app_with_job(&["t"]).await;
    app.device_reports("j", "t", ExecutionStatus::InProgress)
        .await;
    app.put("/jobs/j/things/t/cancel", None).await.assert_error(
        409,
        "InvalidStateTransition",
        "force=true",
    );
    assert_eq!(app.execution_status("j", "t").await, "IN_PROGRESS");
    // The original package defaulted expectedVersion to 1 and so broke this forced cancel.
    app.put("/jobs/j/things/t/cancel", Some(json!({"force": true})))
        .await
        .assert_ok();
    let execution = app.execution("j", "t").await;
    assert_eq!(execution["status"], "CANCELED");
    assert_eq!(execution["forceCanceled"], true);
    assert_eq!(execution["versionNumber"], 3);
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: CancelJobExecution ignores expectedVersion"
)]
#[tokio::test]
async fn cancel_execution_checks_expected_version() {
    let app = app_with_job(&["t"]).await;
    app.put(
        "/jobs/j/things/t/cancel",
        Some(json!({"expectedVersion": 7})),
    )
    .await
    .assert_error(
        409,
        "VersionConflict",
        "expectedVersion is 7 but the execution is at version 1",
    );
    assert_eq!(app.execution_status("j", "t").await, "QUEUED");
    app.put(
        "/jobs/j/things/t/cancel",
        Some(json!({"expectedVersion": 1})),
    )
    .await
    .assert_ok();
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: answers 500 where AWS answers 404 or 409"
)]
#[tokio::test]
async fn cancel_execution_errors() {
    let app = app_with_job(&["t", "u"]).await;
    app.put("/jobs/nope/things/t/cancel", None)
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    app.put("/jobs/j/things/x/cancel", None)
        .await
        .assert_error(404, "ResourceNotFound", "\"x\"");
    let eleven: serde_json::Map<String, serde_json::Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    app.put(
        "/jobs/j/things/t/cancel",
        Some(json!({"statusDetails": eleven})),
    )
    .await
    .assert_error(
        422,
        "ValidationError",
        "statusDetails: must hold at most 10 pairs",
    );
    app.put(
        "/jobs/j/things/t/cancel",
        Some(json!({"statusDetails": {"k": ""}})),
    )
    .await
    .assert_error(422, "ValidationError", "statusDetails");
    app.put("/jobs/j/things/t/cancel", Some(json!({"detailsMap": {}})))
        .await
        .assert_error(422, "ValidationError", "unknown field `detailsMap`");
    app.device_reports("j", "t", ExecutionStatus::Succeeded)
        .await;
    app.put("/jobs/j/things/t/cancel", Some(json!({"force": true})))
        .await
        .assert_error(409, "InvalidStateTransition", "SUCCEEDED");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: cancelled executions cannot be found again"
)]
#[tokio::test]
async fn delete_execution_of_a_terminal_execution_by_number_or_latest() {
    let app = app_with_job(&["t", "u"]).await;
    app.put("/jobs/j/things/t/cancel", None).await.assert_ok();
    app.put("/jobs/j/things/u/cancel", None).await.assert_ok();
    assert_eq!(
        app.delete("/jobs/j/things/t?executionNumber=1", None)
            .await
            .assert_ok()["deleted"],
        true
    );
    app.get("/jobs/j/things/t")
        .await
        .assert_error(404, "ResourceNotFound", "\"t\"");
    app.delete("/jobs/j/things/u", None).await.assert_ok();
    app.get("/jobs/j/things/u")
        .await
        .assert_error(404, "ResourceNotFound", "\"u\"");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn delete_execution_that_is_not_terminal_needs_force() {
    let app = app_with_job(&["t"]).await;
    app.device_reports("j", "t", ExecutionStatus::InProgress)
        .await;
    app.delete("/jobs/j/things/t?executionNumber=1", None)
        .await
        .assert_error(409, "InvalidStateTransition", "IN_PROGRESS");
    app.delete("/jobs/j/things/t?executionNumber=1&force=true", None)
        .await
        .assert_ok();
    app.get("/jobs/j/things/t")
        .await
        .assert_error(404, "ResourceNotFound", "\"t\"");
    assert_eq!(
        app.job("j").await["status"],
        "COMPLETED",
        "no execution is left to wait for"
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: answers 500 where AWS answers 404 or 409"
)]
#[tokio::test]
async fn delete_execution_errors() {
    let app = app_with_job(&["t"]).await;
    app.delete("/jobs/j/things/t?executionNumber=9&force=true", None)
        .await
        .assert_error(404, "ResourceNotFound", "execution number 9");
    app.delete("/jobs/j/things/t?executionNumber=one", None)
        .await
        .assert_error(
            422,
            "ValidationError",
            "executionNumber: must be a positive integer",
        );
    app.delete("/jobs/j/things/t", Some(json!({"executionNumber": 1})))
        .await
        .assert_error(422, "ValidationError", "takes no body");
    app.delete("/jobs/nope/things/t", None)
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    app.delete("/jobs/j/things/x", None)
        .await
        .assert_error(404, "ResourceNotFound", "\"x\"");
}

#[cfg_attr(contract_on_moto, ignore = "moto: list filters and paging are ignored")]
#[tokio::test]
async fn list_executions_for_a_job_filters_by_status_and_pages() {
    let app = app_with_job(&["a", "b", "c"]).await;
    app.put("/jobs/j/things/b/cancel", None).await.assert_ok();
    let body = app.get("/jobs/j/status").await.assert_ok().clone();
    let summaries = body["executionSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 3);
    assert_eq!(
        summaries[0]["thingArn"],
        "arn:aws:iot:us-east-1:000000000000:thing/a"
    );
    assert_eq!(summaries[0]["jobExecution"]["status"], "QUEUED");
    let canceled = app
        .get("/jobs/j/status?status=CANCELED")
        .await
        .assert_ok()
        .clone();
    assert_eq!(canceled["executionSummaries"].as_array().unwrap().len(), 1);
    assert_eq!(
        canceled["executionSummaries"][0]["thingArn"],
        "arn:aws:iot:us-east-1:000000000000:thing/b"
    );
    let first = app
        .get("/jobs/j/status?maxResults=2")
        .await
        .assert_ok()
        .clone();
    assert_eq!(first["executionSummaries"].as_array().unwrap().len(), 2);
    let token = first["nextToken"].as_str().unwrap();
    let second = app
        .get(&format!("/jobs/j/status?maxResults=2&nextToken={token}"))
        .await
        .assert_ok()
        .clone();
    assert_eq!(second["executionSummaries"].as_array().unwrap().len(), 1);
    assert!(second.get("nextToken").is_none());
    app.get("/jobs/nope/status")
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    app.get("/jobs/j/status?status=SUCCESS").await.assert_error(
        422,
        "ValidationError",
        "status: unknown variant",
    );
}

#[cfg_attr(contract_on_moto, ignore = "moto: list filters are ignored")]
#[tokio::test]
async fn list_executions_for_a_thing() {
    let app = spawn_app();
    app.create_things(&["t", "u"]).await;
    app.create_job("j1", &["t".into()], "SNAPSHOT").await;
    app.create_job("j2", &["t".into(), "u".into()], "SNAPSHOT")
        .await;
    app.put("/jobs/j1/cancel", None).await.assert_ok();
    let body = app.get("/things/t/jobs").await.assert_ok().clone();
    let jobs: Vec<&str> = body["executionSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["j1", "j2"]);
    let queued = app
        .get("/things/t/jobs?status=QUEUED")
        .await
        .assert_ok()
        .clone();
    assert_eq!(queued["executionSummaries"][0]["jobId"], "j2");
    assert_eq!(queued["executionSummaries"].as_array().unwrap().len(), 1);
    app.get("/things/ghost/jobs")
        .await
        .assert_error(404, "ResourceNotFound", "ghost");
}
