//! Whole stories across operations, as the issue and the AWS IoT reference tell them.

use std::sync::Arc;

use models::job::ExecutionStatus;
use serde_json::json;

use crate::helpers::spawn_app;

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: thing groups are not expanded into executions"
)]
#[tokio::test]
async fn a_group_of_three_things_targeted_by_a_job_gives_three_queued_executions() {
    let app = spawn_app();
    app.create_group("g", None).await;
    for t in ["a", "b", "c"] {
        app.create_thing(t).await;
        app.add_to_group("g", t).await;
    }
    app.create_job("j", &[app.group_arn("g")], "SNAPSHOT").await;
    let body = app
        .get("/jobs/j/status?status=QUEUED")
        .await
        .assert_ok()
        .clone();
    assert_eq!(body["executionSummaries"].as_array().unwrap().len(), 3);
    assert_eq!(
        app.job("j").await["jobProcessDetails"]["numberOfQueuedThings"],
        3
    );
}

#[cfg_attr(contract_on_moto, ignore = "moto: jobs never complete")]
#[tokio::test]
async fn cancelling_one_execution_and_then_the_others_completes_a_snapshot_job() {
    let app = spawn_app();
    app.create_things(&["a", "b", "c"]).await;
    app.create_job("j", &["a".into(), "b".into(), "c".into()], "SNAPSHOT")
        .await;
    app.put("/jobs/j/things/a/cancel", None).await.assert_ok();
    let job = app.job("j").await;
    assert_eq!(job["status"], "IN_PROGRESS");
    assert!(job.get("completedAt").is_none());
    app.put("/jobs/j/things/b/cancel", None).await.assert_ok();
    app.put("/jobs/j/things/c/cancel", None).await.assert_ok();
    let job = app.job("j").await;
    assert_eq!(job["status"], "COMPLETED");
    assert!(job["completedAt"].is_string());
    assert_eq!(job["jobProcessDetails"]["numberOfCanceledThings"], 3);
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn a_snapshot_job_completes_when_devices_finish_and_a_continuous_one_never_does() {
    let app = spawn_app();
    app.create_things(&["a", "b"]).await;
    app.create_job("snap", &["a".into(), "b".into()], "SNAPSHOT")
        .await;
    app.create_job("cont", &["a".into()], "CONTINUOUS").await;
    app.device_reports("snap", "a", ExecutionStatus::Succeeded)
        .await;
    app.device_reports("snap", "b", ExecutionStatus::InProgress)
        .await;
    assert_eq!(app.job("snap").await["status"], "IN_PROGRESS");
    app.device_reports("snap", "b", ExecutionStatus::Failed)
        .await;
    app.device_reports("cont", "a", ExecutionStatus::Succeeded)
        .await;
    let snap = app.job("snap").await;
    assert_eq!(snap["status"], "COMPLETED");
    assert_eq!(snap["jobProcessDetails"]["numberOfSucceededThings"], 1);
    assert_eq!(snap["jobProcessDetails"]["numberOfFailedThings"], 1);
    assert_eq!(app.job("cont").await["status"], "IN_PROGRESS");
}

#[cfg_attr(contract_on_moto, ignore = "moto: jobs never complete")]
#[tokio::test]
async fn a_snapshot_job_on_an_empty_group_completes_at_once() {
    let app = spawn_app();
    app.create_group("empty", None).await;
    app.create_job("j", &[app.group_arn("empty")], "SNAPSHOT")
        .await;
    assert_eq!(app.job("j").await["status"], "COMPLETED");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: thing groups are not expanded into executions"
)]
#[tokio::test]
async fn a_continuous_job_gains_an_execution_when_a_thing_joins_its_group_or_a_child_group() {
    let app = spawn_app();
    app.create_group("g", None).await;
    app.create_group("child", Some("g")).await;
    app.create_things(&["first", "late", "deep"]).await;
    app.add_to_group("g", "first").await;
    app.create_job("cont", &[app.group_arn("g")], "CONTINUOUS")
        .await;
    app.create_job("snap", &[app.group_arn("g")], "SNAPSHOT")
        .await;
    app.add_to_group("g", "late").await;
    app.add_to_group("child", "deep").await;
    assert_eq!(app.execution_status("cont", "late").await, "QUEUED");
    assert_eq!(app.execution_status("cont", "deep").await, "QUEUED");
    app.get("/jobs/snap/things/late")
        .await
        .assert_error(404, "ResourceNotFound", "late");
    assert_eq!(
        app.job("cont").await["jobProcessDetails"]["numberOfQueuedThings"],
        3
    );
}

#[tokio::test]
async fn a_canceled_continuous_job_gains_nothing() {
    let app = spawn_app();
    app.create_group("g", None).await;
    app.create_thing("t").await;
    app.create_job("cont", &[app.group_arn("g")], "CONTINUOUS")
        .await;
    app.put("/jobs/cont/cancel", None).await.assert_ok();
    app.add_to_group("g", "t").await;
    app.get("/jobs/cont/things/t")
        .await
        .assert_error(404, "ResourceNotFound", "\"t\"");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: thing groups are not expanded into executions"
)]
#[tokio::test]
async fn a_thing_removed_from_a_targeted_group_has_its_queued_execution_removed() {
    let app = spawn_app();
    app.create_group("g", None).await;
    app.create_things(&["a", "b", "busy"]).await;
    for t in ["a", "b", "busy"] {
        app.add_to_group("g", t).await;
    }
    app.create_job("j", &[app.group_arn("g"), "b".into()], "CONTINUOUS")
        .await;
    app.device_reports("j", "busy", ExecutionStatus::InProgress)
        .await;
    for t in ["a", "b", "busy"] {
        app.delete(&format!("/thing-groups/g/things/{t}"), None)
            .await
            .assert_ok();
    }
    let a = app.execution("j", "a").await;
    assert_eq!(a["status"], "REMOVED");
    assert_eq!(a["versionNumber"], 2);
    assert_eq!(
        app.execution_status("j", "b").await,
        "QUEUED",
        "b is still a direct target"
    );
    assert_eq!(
        app.execution_status("j", "busy").await,
        "IN_PROGRESS",
        "running executions finish"
    );
    assert_eq!(
        app.job("j").await["jobProcessDetails"]["numberOfRemovedThings"],
        1
    );
    // Coming back queues a new execution with the next number.
    app.add_to_group("g", "a").await;
    let again = app.execution("j", "a").await;
    assert_eq!(again["status"], "QUEUED");
    assert_eq!(again["executionNumber"], 2);
    let first = app
        .get("/jobs/j/things/a?executionNumber=1")
        .await
        .assert_ok()["execution"]
        .clone();
    assert_eq!(first["status"], "REMOVED");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: thing groups are not expanded into executions"
)]
#[tokio::test]
async fn removing_the_last_queued_thing_completes_a_snapshot_job() {
    let app = spawn_app();
    app.create_group("g", None).await;
    app.create_thing("t").await;
    app.add_to_group("g", "t").await;
    app.create_job("j", &[app.group_arn("g")], "SNAPSHOT").await;
    app.delete("/thing-groups/g/things/t", None)
        .await
        .assert_ok();
    assert_eq!(app.execution_status("j", "t").await, "REMOVED");
    assert_eq!(app.job("j").await["status"], "COMPLETED");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: deleting a thing leaves its executions QUEUED"
)]
#[tokio::test]
async fn deleting_a_thing_removes_its_queued_executions() {
    let app = spawn_app();
    app.create_things(&["a", "b"]).await;
    app.create_job("j", &["a".into(), "b".into()], "SNAPSHOT")
        .await;
    app.delete("/things/a", None).await.assert_ok();
    assert_eq!(app.execution_status("j", "a").await, "REMOVED");
    assert_eq!(
        app.job("j").await["jobProcessDetails"]["numberOfRemovedThings"],
        1
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: thing groups are not expanded into executions"
)]
#[tokio::test]
async fn one_execution_per_thing_however_many_targets_reach_it() {
    let app = spawn_app();
    app.create_group("top", None).await;
    app.create_group("sub", Some("top")).await;
    app.create_group("other", None).await;
    app.create_thing("t").await;
    app.add_to_group("sub", "t").await;
    app.add_to_group("other", "t").await;
    app.create_job(
        "j",
        &[
            "t".into(),
            app.group_arn("top"),
            app.group_arn("sub"),
            app.group_arn("other"),
        ],
        "CONTINUOUS",
    )
    .await;
    let body = app.get("/jobs/j/status").await.assert_ok().clone();
    assert_eq!(body["executionSummaries"].as_array().unwrap().len(), 1);
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn forced_and_unforced_cancel_and_delete_of_in_progress_jobs() {
    let app = spawn_app();
    app.create_things(&["run", "wait"]).await;
    for id in ["soft", "hard"] {
        app.create_job(id, &["run".into(), "wait".into()], "SNAPSHOT")
            .await;
        app.device_reports(id, "run", ExecutionStatus::InProgress)
            .await;
    }
    app.delete("/jobs/soft", None)
        .await
        .assert_error(409, "InvalidStateTransition", "IN_PROGRESS");
    app.put("/jobs/soft/cancel", None).await.assert_ok();
    assert_eq!(app.execution_status("soft", "run").await, "IN_PROGRESS");
    assert_eq!(app.execution_status("soft", "wait").await, "CANCELED");
    app.delete("/jobs/soft", None).await.assert_ok();
    app.put("/jobs/hard/cancel", Some(json!({"force": true})))
        .await
        .assert_ok();
    assert_eq!(app.execution_status("hard", "run").await, "CANCELED");
    app.create_job("live", &["run".into()], "SNAPSHOT").await;
    app.delete("/jobs/live?force=true", None).await.assert_ok();
    app.get("/jobs/live")
        .await
        .assert_error(404, "ResourceNotFound", "live");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: thing groups are not expanded into executions"
)]
#[tokio::test]
async fn concurrent_requests_are_safe() {
    let app = Arc::new(spawn_app());
    app.create_group("g", None).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let name = format!("t{i}");
            app.create_thing(&name).await;
            app.add_to_group("g", &name).await;
            app.create_job(&format!("j{i}"), &[app.group_arn("g")], "CONTINUOUS")
                .await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let things = app
        .get("/thing-groups/g/things?maxResults=100")
        .await
        .assert_ok()["things"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(things, 40);
    // Every job reaches every thing that was in the group when it was created or that joined
    // later, so every job ends with all 40 things.
    for i in 0..40 {
        let job = app.job(&format!("j{i}")).await;
        assert_eq!(
            job["jobProcessDetails"]["numberOfQueuedThings"], 40,
            "job j{i}"
        );
    }
}
