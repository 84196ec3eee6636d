//! Jobs: create, get, document, update, list, cancel, delete, associate.

use models::job::ExecutionStatus;
use serde_json::json;

use crate::helpers::spawn_app;

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: new jobs are QUEUED, a job status AWS never returns"
)]
#[tokio::test]
async fn create_job_returns_its_id_and_arn_and_defaults_to_snapshot() {
    let app = spawn_app();
    app.create_thing("lamp-1").await;
    let reply = app
        .post(
            "/jobs",
            json!({"targets": ["lamp-1"], "document": "{\"op\":\"reboot\"}"}),
        )
        .await;
    let body = reply.assert_ok();
    assert_eq!(body["created"], true);
    let id = body["jobId"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a generated id is a UUID: {id}");
    assert_eq!(
        body["jobArn"],
        format!("arn:aws:iot:us-east-1:000000000000:job/{id}")
    );
    let job = app.job(id).await;
    assert_eq!(job["targetSelection"], "SNAPSHOT");
    assert_eq!(job["status"], "IN_PROGRESS");
    assert_eq!(
        job["targets"],
        json!(["arn:aws:iot:us-east-1:000000000000:thing/lamp-1"])
    );
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 1);
    assert!(job["createdAt"].as_str().unwrap().ends_with('Z'));
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: CreateJob overwrites a job with the same id"
)]
#[tokio::test]
async fn create_job_with_a_taken_id_is_409() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.create_job("j1", &["t".into()], "SNAPSHOT").await;
    let reply = app
        .post(
            "/jobs",
            json!({"jobId": "j1", "targets": ["t"], "document": "{}"}),
        )
        .await;
    reply.assert_error(409, "ResourceAlreadyExists", "j1");
}

#[tokio::test]
async fn create_job_validates_every_field() {
    let app = spawn_app();
    app.create_thing("t").await;
    let cases = [
        (json!({"document": "{}"}), "targets"),
        (
            json!({"targets": [], "document": "{}"}),
            "targets: must hold 1 to 100",
        ),
        (
            json!({"targets": ["t"]}),
            "document: is required unless jobTemplateId",
        ),
        (
            json!({"targets": ["t"], "document": "{nope"}),
            "document: must be a JSON text",
        ),
        (
            json!({"targets": ["t"], "document": {"op": 1}}),
            "document: invalid type: map",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "targetSelection": "SOMETIMES"}),
            "targetSelection: unknown variant",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "description": 1}),
            "description: invalid type: integer",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "description": ""}),
            "description: must be 1 to 2028",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "jobId": "has space"}),
            "jobId: must match [a-zA-Z0-9_-]+",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "jobId": "x".repeat(65)}),
            "jobId: must be 1 to 64",
        ),
        (
            json!({"targets": ["bad name"], "document": "{}"}),
            "targets[0]",
        ),
        (
            json!({"targets": ["arn:aws:s3:::bucket"], "document": "{}"}),
            "targets[0]: \"arn:aws:s3:::bucket\" is not a thing",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "timeoutConfig": {"inProgressTimeoutInMinutes": 0}}),
            "timeoutConfig",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "presignedUrlConfig": {"expiresInSec": 10}}),
            "presignedUrlConfig: expiresInSec must be from 60 to 3600",
        ),
        (
            json!({"targets": ["t"], "document": "{}", "jobExecutionsRolloutConfig": {"maximumPerMinute": 5000}}),
            "maximumPerMinute must be from 1 to 1000",
        ),
    ];
    for (body, mentions) in cases {
        let reply = app.post("/jobs", body.clone()).await;
        assert_eq!(reply.status.as_u16(), 422, "{body} gave {reply:?}");
        assert_eq!(reply.code(), "ValidationError");
        assert!(
            reply.error().contains(mentions),
            "{body}: {:?} does not mention {mentions:?}",
            reply.error()
        );
    }
    let too_many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    app.post("/jobs", json!({"targets": too_many, "document": "{}"}))
        .await
        .assert_error(
            422,
            "ValidationError",
            "targets: must hold 1 to 100 targets, got 101",
        );
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(33 * 1024));
    app.post("/jobs", json!({"targets": ["t"], "document": big}))
        .await
        .assert_error(
            422,
            "ValidationError",
            "document: must be at most 32768 bytes",
        );
    let jobs = app.get("/jobs").await;
    assert_eq!(
        jobs.assert_ok()["jobs"],
        json!([]),
        "no failed request stored a job"
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: CreateJob does not check its targets"
)]
#[tokio::test]
async fn create_job_with_unknown_or_foreign_targets_is_404_naming_the_target() {
    let app = spawn_app();
    app.create_thing("t").await;
    let reply = app
        .post(
            "/jobs",
            json!({"targets": ["t", "ghost"], "document": "{}"}),
        )
        .await;
    reply.assert_error(404, "ResourceNotFound", "\"ghost\"");
    let reply = app
        .post(
            "/jobs",
            json!({"targets": [app.group_arn("nobody")], "document": "{}"}),
        )
        .await;
    reply.assert_error(404, "ResourceNotFound", "thing group \"nobody\"");
    let foreign = "arn:aws:iot:eu-west-1:111122223333:thing/t";
    let reply = app
        .post("/jobs", json!({"targets": [foreign], "document": "{}"}))
        .await;
    reply.assert_error(404, "ResourceNotFound", "not in this account and region");
    assert_eq!(
        app.get("/things/t/jobs").await.assert_ok()["executionSummaries"],
        json!([])
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: new jobs are QUEUED, a job status AWS never returns"
)]
#[tokio::test]
async fn create_job_accepts_thing_names_thing_arns_and_group_arns() {
    let app = spawn_app();
    app.create_things(&["a", "b", "c"]).await;
    app.create_group("g", None).await;
    app.add_to_group("g", "c").await;
    let targets = vec![
        "a".to_owned(),
        "arn:aws:iot:us-east-1:000000000000:thing/b".to_owned(),
        app.group_arn("g"),
        "a".to_owned(),
    ];
    app.create_job("j", &targets, "SNAPSHOT").await;
    let job = app.job("j").await;
    assert_eq!(
        job["targets"].as_array().unwrap().len(),
        3,
        "duplicate targets are stored once"
    );
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 3);
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: new jobs are QUEUED, a job status AWS never returns"
)]
#[tokio::test]
async fn create_job_from_a_template_takes_its_document_and_configuration() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.post(
        "/job-templates",
        json!({"jobTemplateId": "reboot", "description": "Reboot", "document": "{\"op\":\"reboot\"}",
               "timeoutConfig": {"inProgressTimeoutInMinutes": 15}}),
    )
    .await
    .assert_ok();
    let reply = app
        .post(
            "/jobs",
            json!({"jobId": "j", "targets": ["t"], "jobTemplateId": "reboot"}),
        )
        .await;
    reply.assert_ok();
    let job = app.job("j").await;
    assert_eq!(
        job["jobTemplateArn"],
        "arn:aws:iot:us-east-1:000000000000:jobtemplate/reboot"
    );
    assert_eq!(job["timeoutConfig"]["inProgressTimeoutInMinutes"], 15);
    assert_eq!(
        app.get("/jobs/j/document").await.assert_ok()["document"],
        "{\"op\":\"reboot\"}"
    );
    let reply = app
        .post(
            "/jobs",
            json!({"targets": ["t"], "jobTemplateId": "missing"}),
        )
        .await;
    reply.assert_error(404, "ResourceNotFound", "job template \"missing\"");
}

#[cfg_attr(contract_on_moto, ignore = "moto: answers 500 where AWS answers 404")]
#[tokio::test]
async fn describe_job_and_document_of_a_missing_or_invalid_id() {
    let app = spawn_app();
    app.get("/jobs/nope")
        .await
        .assert_error(404, "ResourceNotFound", "\"nope\"");
    app.get("/jobs/nope/document")
        .await
        .assert_error(404, "ResourceNotFound", "\"nope\"");
    app.get("/jobs/a%20b")
        .await
        .assert_error(422, "ValidationError", "jobId: must match");
}

#[tokio::test]
async fn get_job_document_returns_the_text_as_created() {
    let app = spawn_app();
    app.create_thing("t").await;
    let document = "{\"steps\": [1, 2, 3]}";
    app.post(
        "/jobs",
        json!({"jobId": "j", "targets": ["t"], "document": document}),
    )
    .await
    .assert_ok();
    assert_eq!(
        app.get("/jobs/j/document").await.assert_ok()["document"],
        document
    );
}

/// The emulator remembers a described job until its next commit; every kind of change must
/// still show in the next describe, however often the job was described before it.
#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn a_job_described_again_shows_every_change_since() {
    let app = spawn_app();
    app.create_things(&["a", "b"]).await;
    app.create_group("g", None).await;
    app.create_job("j", &[app.group_arn("g")], "CONTINUOUS")
        .await;
    let counts = |job: &serde_json::Value| {
        let details = &job["jobProcessDetails"];
        [
            "numberOfQueuedThings",
            "numberOfInProgressThings",
            "numberOfSucceededThings",
        ]
        .map(|field| details[field].as_i64().unwrap_or(0))
    };
    for _ in 0..3 {
        assert_eq!(counts(&app.job("j").await), [0, 0, 0]);
    }
    app.add_to_group("g", "a").await;
    assert_eq!(counts(&app.job("j").await), [1, 0, 0], "a member joined");
    app.device_reports("j", "a", ExecutionStatus::InProgress)
        .await;
    assert_eq!(counts(&app.job("j").await), [0, 1, 0], "the device started");
    app.device_reports("j", "a", ExecutionStatus::Succeeded)
        .await;
    assert_eq!(counts(&app.job("j").await), [0, 0, 1], "the device ended");
    app.put("/jobs/j", Some(json!({"description": "later"})))
        .await
        .assert_ok();
    assert_eq!(app.job("j").await["description"], "later");
    app.put("/jobs/j/cancel", None).await.assert_ok();
    assert_eq!(app.job("j").await["status"], "CANCELED");
    app.delete("/jobs/j?force=true", None).await.assert_ok();
    app.get("/jobs/j")
        .await
        .assert_error(404, "ResourceNotFound", "job \"j\" does not exist");
}

#[cfg_attr(contract_on_moto, ignore = "moto: UpdateJob is not implemented")]
#[tokio::test]
async fn update_job_changes_only_the_fields_given() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.post(
        "/jobs",
        json!({"jobId": "j", "targets": ["t"], "document": "{}", "description": "first"}),
    )
    .await
    .assert_ok();
    app.put(
        "/jobs/j",
        Some(json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 5}})),
    )
    .await
    .assert_ok();
    let job = app.job("j").await;
    assert_eq!(
        job["description"], "first",
        "a description left out is kept"
    );
    assert_eq!(job["timeoutConfig"]["inProgressTimeoutInMinutes"], 5);
    app.put("/jobs/j", Some(json!({"description": "second"})))
        .await
        .assert_ok();
    assert_eq!(app.job("j").await["description"], "second");
    app.put("/jobs/j", Some(json!({}))).await.assert_error(
        422,
        "ValidationError",
        "at least one of description",
    );
    app.put("/jobs/j", Some(json!({"description": 5})))
        .await
        .assert_error(422, "ValidationError", "description");
    app.put("/jobs/nope", Some(json!({"description": "x"})))
        .await
        .assert_error(404, "ResourceNotFound", "nope");
}

#[cfg_attr(contract_on_moto, ignore = "moto: list filters are ignored")]
#[tokio::test]
async fn list_jobs_filters_by_status_selection_and_group() {
    let app = spawn_app();
    app.create_things(&["t", "u"]).await;
    app.create_group("g", None).await;
    app.add_to_group("g", "u").await;
    app.create_job("snap", &["t".into()], "SNAPSHOT").await;
    app.create_job("cont", &[app.group_arn("g")], "CONTINUOUS")
        .await;
    app.create_job("gone", &["t".into()], "SNAPSHOT").await;
    app.put("/jobs/gone/cancel", None).await.assert_ok();
    let ids = |reply: crate::helpers::Reply| -> Vec<String> {
        reply.assert_ok()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(app.get("/jobs").await), ["snap", "cont", "gone"]);
    assert_eq!(ids(app.get("/jobs?status=CANCELED").await), ["gone"]);
    assert_eq!(
        ids(app.get("/jobs?targetSelection=CONTINUOUS").await),
        ["cont"]
    );
    assert_eq!(ids(app.get("/jobs?thingGroupName=g").await), ["cont"]);
    assert_eq!(
        ids(app
            .get("/jobs?status=IN_PROGRESS&targetSelection=SNAPSHOT")
            .await),
        ["snap"]
    );
    app.get("/jobs?status=DONE").await.assert_error(
        422,
        "ValidationError",
        "status: unknown variant `DONE`",
    );
    app.get("/jobs?maxResults=0").await.assert_error(
        422,
        "ValidationError",
        "maxResults: must be an integer from 1 to 250",
    );
    app.get("/jobs?maxResults=251")
        .await
        .assert_error(422, "ValidationError", "maxResults");
    app.get("/jobs?maxResults=ten")
        .await
        .assert_error(422, "ValidationError", "maxResults");
    app.get("/jobs?nextToken=bogus")
        .await
        .assert_error(404, "ResourceNotFound", "nextToken");
    app.get("/jobs?colour=red").await.assert_error(
        422,
        "ValidationError",
        "unknown field `colour`",
    );
}

#[cfg_attr(contract_on_moto, ignore = "moto: does not check next tokens")]
#[tokio::test]
async fn a_token_from_another_list_is_refused() {
    let app = spawn_app();
    app.create_things(&["a", "b"]).await;
    let token = app.get("/things?maxResults=1").await.assert_ok()["nextToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get(&format!("/jobs?nextToken={token}"))
        .await
        .assert_error(404, "ResourceNotFound", "nextToken");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: new jobs are QUEUED, a job status AWS never returns"
)]
#[tokio::test]
async fn paging_through_1000_jobs_seven_at_a_time_returns_each_once() {
    let app = spawn_app();
    app.create_thing("t").await;
    for i in 0..1000 {
        app.create_job(&format!("job-{i:04}"), &["t".into()], "CONTINUOUS")
            .await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &token {
            Some(t) => format!("/jobs?maxResults=7&nextToken={t}"),
            None => "/jobs?maxResults=7".to_owned(),
        };
        let body = app.get(&uri).await.assert_ok().clone();
        let jobs = body["jobs"].as_array().unwrap();
        assert!(jobs.len() <= 7);
        seen.extend(jobs.iter().map(|j| j["jobId"].as_str().unwrap().to_owned()));
        pages += 1;
        match body.get("nextToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 143, "1000 jobs make 142 full pages and one of 6");
    let expected: Vec<String> = (0..1000).map(|i| format!("job-{i:04}")).collect();
    assert_eq!(seen, expected, "every job exactly once, in creation order");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn cancel_job_cancels_queued_executions_and_keeps_comment_and_reason() {
    let app = spawn_app();
    app.create_things(&["a", "b"]).await;
    app.create_job("j", &["a".into(), "b".into()], "SNAPSHOT")
        .await;
    app.device_reports("j", "a", models::job::ExecutionStatus::InProgress)
        .await;
    let reply = app
        .put(
            "/jobs/j/cancel",
            Some(json!({"comment": "superseded", "reasonCode": "SUPERSEDED"})),
        )
        .await;
    assert_eq!(reply.assert_ok()["canceled"], true);
    let job = app.job("j").await;
    assert_eq!(job["status"], "CANCELED");
    assert_eq!(job["comment"], "superseded");
    assert_eq!(job["reasonCode"], "SUPERSEDED");
    assert_eq!(job["forceCanceled"], false);
    assert_eq!(app.execution_status("j", "b").await, "CANCELED");
    assert_eq!(
        app.execution_status("j", "a").await,
        "IN_PROGRESS",
        "without force IN_PROGRESS runs on"
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn forced_cancel_also_cancels_in_progress_executions_even_after_an_unforced_one() {
    let app = spawn_app();
    app.create_things(&["a", "b"]).await;
    app.create_job("j", &["a".into(), "b".into()], "SNAPSHOT")
        .await;
    app.device_reports("j", "a", models::job::ExecutionStatus::InProgress)
        .await;
    app.put("/jobs/j/cancel", None).await.assert_ok();
    app.put("/jobs/j/cancel", None).await.assert_error(
        409,
        "InvalidStateTransition",
        "again without force",
    );
    app.put("/jobs/j/cancel", Some(json!({"force": true})))
        .await
        .assert_ok();
    let job = app.job("j").await;
    assert_eq!(job["forceCanceled"], true);
    assert_eq!(job["jobProcessDetails"]["numberOfCanceledThings"], 2);
    let execution = app.execution("j", "a").await;
    assert_eq!(execution["status"], "CANCELED");
    assert_eq!(execution["forceCanceled"], true);
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: no jobs data plane to play the device"
)]
#[tokio::test]
async fn cancel_job_errors() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.put("/jobs/nope/cancel", None)
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    app.create_job("j", &["t".into()], "SNAPSHOT").await;
    app.device_reports("j", "t", models::job::ExecutionStatus::Succeeded)
        .await;
    assert_eq!(app.job("j").await["status"], "COMPLETED");
    app.put("/jobs/j/cancel", Some(json!({"force": true})))
        .await
        .assert_error(409, "InvalidStateTransition", "COMPLETED");
    app.put("/jobs/j/cancel", Some(json!({"reasonCode": "lower case"})))
        .await
        .assert_error(422, "ValidationError", "reasonCode: must match [A-Z0-9_]+");
    app.put("/jobs/j/cancel", Some(json!({"force": "maybe"})))
        .await
        .assert_error(422, "ValidationError", "force: invalid type");
    // force belongs to the body of a cancel; in the query string it is an unknown field.
    app.put("/jobs/j/cancel?force=true", None)
        .await
        .assert_error(422, "ValidationError", "unknown field `force`");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: DeleteJob does not check the job's status"
)]
#[tokio::test]
async fn delete_in_progress_job_needs_force() {
    let app = spawn_app();
    app.create_thing("t").await;
    for id in ["q", "b"] {
        app.create_job(id, &["t".into()], "CONTINUOUS").await;
        app.delete(&format!("/jobs/{id}"), None).await.assert_error(
            409,
            "InvalidStateTransition",
            "IN_PROGRESS",
        );
        assert_eq!(
            app.job(id).await["status"],
            "IN_PROGRESS",
            "a refused delete changes nothing"
        );
    }
    assert_eq!(
        app.delete("/jobs/q?force=true", None).await.assert_ok()["deleted"],
        true
    );
    app.delete("/jobs/b?force=maybe", None).await.assert_error(
        422,
        "ValidationError",
        "force: must be true or false",
    );
    app.delete("/jobs/b?force=true", None).await.assert_ok();
    app.get("/jobs/q")
        .await
        .assert_error(404, "ResourceNotFound", "q");
    app.get("/jobs/b/things/t")
        .await
        .assert_error(404, "ResourceNotFound", "b");
    assert_eq!(
        app.get("/things/t/jobs").await.assert_ok()["executionSummaries"],
        json!([])
    );
}

#[cfg_attr(contract_on_moto, ignore = "moto: answers 500 where AWS answers 404")]
#[tokio::test]
async fn delete_job_errors_and_finished_jobs() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.delete("/jobs/nope", None)
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    app.create_job("j", &["t".into()], "SNAPSHOT").await;
    // A delete takes no body: force put there by mistake is refused, not ignored.
    app.delete("/jobs/j", Some(json!({"force": true})))
        .await
        .assert_error(422, "ValidationError", "takes no body");
    assert_eq!(app.job("j").await["status"], "IN_PROGRESS");
    app.put("/jobs/j/cancel", None).await.assert_ok();
    app.delete("/jobs/j", None).await.assert_ok();
    app.create_job("j", &["t".into()], "SNAPSHOT").await;
    assert_eq!(
        app.job("j").await["status"],
        "IN_PROGRESS",
        "a deleted job's id may be used again"
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: AssociateTargetsWithJob is not implemented"
)]
#[tokio::test]
async fn associate_adds_targets_to_a_continuous_job_and_queues_their_things() {
    let app = spawn_app();
    app.create_things(&["a", "b", "c"]).await;
    app.create_group("g", None).await;
    app.add_to_group("g", "b").await;
    app.create_job("j", &["a".into()], "CONTINUOUS").await;
    let reply = app
        .put(
            "/jobs/j/associate",
            Some(json!({"targets": [app.group_arn("g"), "c"], "comment": "more"})),
        )
        .await;
    assert_eq!(reply.assert_ok()["associated"], true);
    let job = app.job("j").await;
    assert_eq!(job["targets"].as_array().unwrap().len(), 3);
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 3);
    assert_eq!(job["comment"], "more");
    app.put("/jobs/j/associate", Some(json!({"targets": ["a"]})))
        .await
        .assert_ok();
    assert_eq!(
        app.job("j").await["targets"].as_array().unwrap().len(),
        3,
        "a target already there is not added again"
    );
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: AssociateTargetsWithJob is not implemented"
)]
#[tokio::test]
async fn associate_errors() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.put("/jobs/nope/associate", Some(json!({"targets": ["t"]})))
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    app.create_job("snap", &["t".into()], "SNAPSHOT").await;
    app.put("/jobs/snap/associate", Some(json!({"targets": ["t"]})))
        .await
        .assert_error(409, "Conflict", "SNAPSHOT");
    app.create_job("cont", &["t".into()], "CONTINUOUS").await;
    app.put("/jobs/cont/associate", Some(json!({"targets": ["ghost"]})))
        .await
        .assert_error(404, "ResourceNotFound", "ghost");
    app.put("/jobs/cont/associate", Some(json!({"targets": []})))
        .await
        .assert_error(422, "ValidationError", "targets");
    app.put("/jobs/cont/associate", None).await.assert_error(
        422,
        "ValidationError",
        "missing field `targets`",
    );
    let names: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
    for name in &names {
        app.create_thing(name).await;
    }
    app.put("/jobs/cont/associate", Some(json!({"targets": names})))
        .await
        .assert_error(409, "LimitExceeded", "limit of 100");
    assert_eq!(
        app.job("cont").await["targets"].as_array().unwrap().len(),
        1,
        "a refused associate adds nothing"
    );
    app.put("/jobs/cont/cancel", None).await.assert_ok();
    app.put("/jobs/cont/associate", Some(json!({"targets": ["n1"]})))
        .await
        .assert_error(409, "Conflict", "CANCELED");
}
