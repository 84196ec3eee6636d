//! The requests the adapter sends for each operation, and how it reads AWS's answers.

use aws_sdk_iot::operation::associate_targets_with_job::AssociateTargetsWithJobOutput;
use aws_sdk_iot::operation::create_job::CreateJobOutput;
use aws_sdk_iot::operation::describe_job::DescribeJobOutput;
use aws_sdk_iot::operation::update_job::UpdateJobOutput;
use aws_sdk_iot::types as iot;
use aws_smithy_mocks::mock;
use axum::http::StatusCode;
use serde_json::json;

use super::{aws_error, backend, call};

#[tokio::test]
async fn create_job_sends_arns_built_from_the_account_and_region() {
    let rule = mock!(aws_sdk_iot::Client::create_job)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.targets()
                    == [
                        "arn:aws:iot:eu-west-1:000000000000:thing/lamp-1".to_owned(),
                        "arn:aws:iot:eu-west-1:000000000000:thinggroup/floor-1".to_owned(),
                    ]
                && r.target_selection() == Some(&iot::TargetSelection::Snapshot)
                && r.document() == Some("{\"op\":1}")
                && r.job_template_arn().is_none()
                && r.timeout_config()
                    .and_then(|t| t.in_progress_timeout_in_minutes())
                    == Some(5)
        })
        .then_output(|| {
            CreateJobOutput::builder()
                .job_id("j1")
                .job_arn("arn:aws:iot:eu-west-1:000000000000:job/j1")
                .build()
        });
    let body = json!({"jobId": "j1", "targets": ["lamp-1", "arn:aws:iot:eu-west-1:000000000000:thinggroup/floor-1"],
                      "document": "{\"op\":1}", "timeoutConfig": {"inProgressTimeoutInMinutes": 5}});
    let (status, reply, _) = call(backend(&[&rule]), "POST", "/jobs", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply,
        json!({"created": true, "jobId": "j1", "jobArn": "arn:aws:iot:eu-west-1:000000000000:job/j1"})
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn create_job_from_a_template_names_the_template_arn() {
    let rule = mock!(aws_sdk_iot::Client::create_job)
        .match_requests(|r| {
            r.job_template_arn() == Some("arn:aws:iot:eu-west-1:000000000000:jobtemplate/reboot")
                && r.document().is_none()
        })
        .then_output(|| CreateJobOutput::builder().job_id("j2").build());
    let body = json!({"jobId": "j2", "targets": ["lamp-1"], "jobTemplateId": "reboot"});
    let (status, reply, _) = call(backend(&[&rule]), "POST", "/jobs", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply["jobArn"], "arn:aws:iot:eu-west-1:000000000000:job/j2",
        "the ARN is built when AWS omits it"
    );
    assert_eq!(rule.num_calls(), 1);
}

// moto ignores abort, retry and scheduling configurations.
#[tokio::test]
async fn abort_retry_and_scheduling_configurations_go_to_aws_and_come_back() {
    let create = mock!(aws_sdk_iot::Client::create_job)
        .match_requests(|r| {
            let abort = r
                .abort_config()
                .map(|a| a.criteria_list())
                .unwrap_or_default();
            let retry = r
                .job_executions_retry_config()
                .map(|c| c.criteria_list())
                .unwrap_or_default();
            abort.len() == 1
                && abort[0].failure_type() == &iot::JobExecutionFailureType::Rejected
                && abort[0].action() == &iot::AbortAction::Cancel
                && abort[0].threshold_percentage() == 25.5
                && abort[0].min_number_of_executed_things() == 10
                && retry.len() == 1
                && retry[0].failure_type() == &iot::RetryableFailureType::TimedOut
                && retry[0].number_of_retries() == 3
                && r.scheduling_config().and_then(|c| c.start_time()) == Some("2027-01-01T10:00")
                && r.scheduling_config().and_then(|c| c.end_time()) == Some("2027-01-01T11:30")
                && r.scheduling_config().and_then(|c| c.end_behavior())
                    == Some(&iot::JobEndBehavior::ForceCancel)
        })
        .then_output(|| CreateJobOutput::builder().job_id("j3").build());
    let body = json!({"jobId": "j3", "targets": ["lamp-1"], "document": "{}",
        "abortConfig": {"criteriaList": [{"failureType": "REJECTED", "action": "CANCEL",
                                          "thresholdPercentage": 25.5, "minNumberOfExecutedThings": 10}]},
        "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 3}]},
        "schedulingConfig": {"startTime": "2027-01-01T12:00:00+02:00", "endTime": "2027-01-01T11:30:00Z",
                             "endBehavior": "FORCE_CANCEL"}});
    let (status, reply, _) = call(backend(&[&create]), "POST", "/jobs", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(create.num_calls(), 1);

    let describe = mock!(aws_sdk_iot::Client::describe_job).then_output(|| {
        let now = aws_smithy_types::DateTime::from_secs(1_795_674_600);
        let abort = iot::AbortConfig::builder()
            .criteria_list(
                iot::AbortCriteria::builder()
                    .failure_type(iot::JobExecutionFailureType::All)
                    .action(iot::AbortAction::Cancel)
                    .threshold_percentage(50.0)
                    .min_number_of_executed_things(4)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let retry = iot::JobExecutionsRetryConfig::builder()
            .criteria_list(
                iot::RetryCriteria::builder()
                    .failure_type(iot::RetryableFailureType::Failed)
                    .number_of_retries(2)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        DescribeJobOutput::builder()
            .job(
                iot::Job::builder()
                    .job_id("j3")
                    .status(iot::JobStatus::InProgress)
                    .target_selection(iot::TargetSelection::Snapshot)
                    .created_at(now)
                    .last_updated_at(now)
                    .abort_config(abort)
                    .job_executions_retry_config(retry)
                    .scheduling_config(
                        iot::SchedulingConfig::builder()
                            .start_time("2027-01-01T10:00")
                            .end_behavior(iot::JobEndBehavior::StopRollout)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let (status, reply, _) = call(backend(&[&describe]), "GET", "/jobs/j3", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply["job"]["abortConfig"],
        json!({"criteriaList": [{"failureType": "ALL", "action": "CANCEL",
                                 "thresholdPercentage": 50.0, "minNumberOfExecutedThings": 4}]})
    );
    assert_eq!(
        reply["job"]["jobExecutionsRetryConfig"],
        json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]})
    );
    assert_eq!(
        reply["job"]["schedulingConfig"],
        json!({"startTime": "2027-01-01T10:00:00Z", "endBehavior": "STOP_ROLLOUT"})
    );
}

// moto does not implement UpdateJob.
#[tokio::test]
async fn update_job_sends_only_the_fields_given() {
    let rule = mock!(aws_sdk_iot::Client::update_job)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.description() == Some("second")
                && r.timeout_config().is_none()
                && r.job_executions_rollout_config()
                    .and_then(|c| c.maximum_per_minute())
                    == Some(20)
        })
        .then_output(|| UpdateJobOutput::builder().build());
    let body =
        json!({"description": "second", "jobExecutionsRolloutConfig": {"maximumPerMinute": 20}});
    let (status, reply, _) = call(backend(&[&rule]), "PUT", "/jobs/j1", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(rule.num_calls(), 1);
}

// moto does not implement AssociateTargetsWithJob.
#[tokio::test]
async fn associate_sends_target_arns_and_the_comment() {
    let rule = mock!(aws_sdk_iot::Client::associate_targets_with_job)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.targets()
                    == ["arn:aws:iot:eu-west-1:000000000000:thinggroup/floor-2".to_owned()]
                && r.comment() == Some("more")
        })
        .then_output(|| {
            AssociateTargetsWithJobOutput::builder()
                .job_id("j1")
                .build()
        });
    let body = json!({"targets": ["arn:aws:iot:eu-west-1:000000000000:thinggroup/floor-2"], "comment": "more"});
    let (status, reply, _) = call(backend(&[&rule]), "PUT", "/jobs/j1/associate", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn status_values_aws_adds_later_are_passed_through() {
    let rule = mock!(aws_sdk_iot::Client::describe_job).then_output(|| {
        let now = aws_smithy_types::DateTime::from_secs(1_795_674_600);
        DescribeJobOutput::builder()
            .job(
                iot::Job::builder()
                    .job_id("j1")
                    .job_arn("arn:aws:iot:eu-west-1:000000000000:job/j1")
                    .status(iot::JobStatus::from("PAUSED"))
                    .target_selection(iot::TargetSelection::from("SOMETIMES"))
                    .targets("arn:aws:iot:eu-west-1:000000000000:thing/lamp-1")
                    .created_at(now)
                    .last_updated_at(now)
                    .build(),
            )
            .build()
    });
    let (status, reply, _) = call(backend(&[&rule]), "GET", "/jobs/j1", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["job"]["status"], "PAUSED");
    assert_eq!(reply["job"]["targetSelection"], "SOMETIMES");
    assert_eq!(reply["job"]["createdAt"], "2026-11-26T06:30:00Z");
}

// moto ignores list filters.
#[tokio::test]
async fn list_jobs_sends_its_filters_and_page_and_returns_the_next_token() {
    let rule = mock!(aws_sdk_iot::Client::list_jobs)
        .match_requests(|r| {
            r.status() == Some(&iot::JobStatus::Canceled)
                && r.target_selection() == Some(&iot::TargetSelection::Continuous)
                && r.thing_group_name() == Some("floor-1")
                && r.max_results() == Some(7)
                && r.next_token() == Some("page-2")
        })
        .then_output(|| {
            aws_sdk_iot::operation::list_jobs::ListJobsOutput::builder()
                .next_token("page-3")
                .build()
        });
    let uri = "/jobs?status=CANCELED&targetSelection=CONTINUOUS&thingGroupName=floor-1&maxResults=7&nextToken=page-2";
    let (status, reply, _) = call(backend(&[&rule]), "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"jobs": [], "nextToken": "page-3"}));
    assert_eq!(rule.num_calls(), 1);
}

// moto's CancelJob sets CANCELED before it checks anything and keeps no reason code.
#[tokio::test]
async fn cancel_job_sends_force_comment_and_reason_code() {
    let rule = mock!(aws_sdk_iot::Client::cancel_job)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.force() == Some(true)
                && r.comment() == Some("superseded")
                && r.reason_code() == Some("SUPERSEDED")
        })
        .then_output(|| {
            aws_sdk_iot::operation::cancel_job::CancelJobOutput::builder()
                .job_id("j1")
                .build()
        });
    let body = json!({"comment": "superseded", "reasonCode": "SUPERSEDED", "force": true});
    let (status, reply, _) = call(backend(&[&rule]), "PUT", "/jobs/j1/cancel", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(rule.num_calls(), 1);
}

// moto's job executions do not follow AWS's numbering.
#[tokio::test]
async fn delete_job_execution_without_a_number_deletes_the_latest() {
    let describe = mock!(aws_sdk_iot::Client::describe_job_execution)
        .match_requests(|r| r.execution_number().is_none())
        .then_output(|| {
            let now = aws_smithy_types::DateTime::from_secs(1_795_674_600);
            aws_sdk_iot::operation::describe_job_execution::DescribeJobExecutionOutput::builder()
                .execution(
                    iot::JobExecution::builder()
                        .job_id("j1")
                        .status(iot::JobExecutionStatus::Canceled)
                        .execution_number(3)
                        .version_number(4)
                        .queued_at(now)
                        .last_updated_at(now)
                        .build(),
                )
                .build()
        });
    let delete = mock!(aws_sdk_iot::Client::delete_job_execution)
        .match_requests(|r| {
            r.execution_number() == Some(3)
                && r.force() == Some(false)
                && r.thing_name() == Some("t")
        })
        .then_output(|| {
            aws_sdk_iot::operation::delete_job_execution::DeleteJobExecutionOutput::builder()
                .build()
        });
    let (status, reply, _) = call(
        backend(&[&describe, &delete]),
        "DELETE",
        "/jobs/j1/things/t",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!((describe.num_calls(), delete.num_calls()), (1, 1));
}

fn at(seconds: i64) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(seconds)
}

// On AWS a job is IN_PROGRESS from its creation and COMPLETED when every execution ends; moto's
// jobs stay QUEUED. The adapter passes on what AWS says, counts and configuration included.
#[tokio::test]
async fn describe_job_reads_status_counts_and_configuration() {
    let rule = mock!(aws_sdk_iot::Client::describe_job)
        .match_requests(|r| r.job_id() == Some("j1"))
        .then_output(|| {
            DescribeJobOutput::builder()
                .job(
                    iot::Job::builder()
                        .job_id("j1")
                        .status(iot::JobStatus::Completed)
                        .target_selection(iot::TargetSelection::Snapshot)
                        .targets("arn:aws:iot:eu-west-1:000000000000:thinggroup/floor-1")
                        .description("firmware 2")
                        .created_at(at(1_795_674_600))
                        .last_updated_at(at(1_795_674_660))
                        .completed_at(at(1_795_674_660))
                        .job_process_details(
                            iot::JobProcessDetails::builder()
                                .number_of_succeeded_things(2)
                                .number_of_failed_things(1)
                                .number_of_removed_things(1)
                                .build(),
                        )
                        .timeout_config(
                            iot::TimeoutConfig::builder()
                                .in_progress_timeout_in_minutes(30)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let (status, reply, _) = call(backend(&[&rule]), "GET", "/jobs/j1", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let job = &reply["job"];
    assert_eq!(job["status"], "COMPLETED");
    assert_eq!(
        job["jobArn"], "arn:aws:iot:eu-west-1:000000000000:job/j1",
        "built when AWS omits it"
    );
    assert_eq!(job["completedAt"], "2026-11-26T06:31:00Z");
    assert_eq!(job["jobProcessDetails"]["numberOfSucceededThings"], 2);
    assert_eq!(job["jobProcessDetails"]["numberOfFailedThings"], 1);
    assert_eq!(job["jobProcessDetails"]["numberOfRemovedThings"], 1);
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 0);
    assert_eq!(job["timeoutConfig"]["inProgressTimeoutInMinutes"], 30);
    assert_eq!(rule.num_calls(), 1);
}

// moto ignores the status filter and paging of ListJobExecutionsForJob, and does not expand
// groups into executions: AWS does, and the adapter lists what AWS lists.
#[tokio::test]
async fn list_job_executions_for_job_sends_status_and_page() {
    let rule = mock!(aws_sdk_iot::Client::list_job_executions_for_job)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.status() == Some(&iot::JobExecutionStatus::Queued)
                && r.max_results() == Some(2)
                && r.next_token() == Some("after-lamp-1")
        })
        .then_output(|| {
            aws_sdk_iot::operation::list_job_executions_for_job::ListJobExecutionsForJobOutput::builder()
                .execution_summaries(
                    iot::JobExecutionSummaryForJob::builder()
                        .thing_arn("arn:aws:iot:eu-west-1:000000000000:thing/lamp-2")
                        .job_execution_summary(
                            iot::JobExecutionSummary::builder()
                                .status(iot::JobExecutionStatus::Queued)
                                .execution_number(1)
                                .queued_at(at(1_795_674_600))
                                .last_updated_at(at(1_795_674_600))
                                .build(),
                        )
                        .build(),
                )
                .next_token("after-lamp-2")
                .build()
        });
    let uri = "/jobs/j1/status?status=QUEUED&maxResults=2&nextToken=after-lamp-1";
    let (status, reply, _) = call(backend(&[&rule]), "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply,
        json!({"executionSummaries": [{
            "thingArn": "arn:aws:iot:eu-west-1:000000000000:thing/lamp-2",
            "jobExecution": {"status": "QUEUED", "executionNumber": 1,
                             "queuedAt": "2026-11-26T06:30:00Z", "lastUpdatedAt": "2026-11-26T06:30:00Z"}}],
               "nextToken": "after-lamp-2"})
    );
    assert_eq!(rule.num_calls(), 1);
}

// moto ignores the status filter of ListJobExecutionsForThing and keeps a deleted thing's
// executions QUEUED; AWS reports them REMOVED, and the adapter passes that on.
#[tokio::test]
async fn list_job_executions_for_thing_sends_status_and_page() {
    let rule = mock!(aws_sdk_iot::Client::list_job_executions_for_thing)
        .match_requests(|r| {
            r.thing_name() == Some("lamp-1")
                && r.status() == Some(&iot::JobExecutionStatus::Removed)
                && r.max_results() == Some(50)
                && r.next_token().is_none()
        })
        .then_output(|| {
            aws_sdk_iot::operation::list_job_executions_for_thing::ListJobExecutionsForThingOutput::builder()
                .execution_summaries(
                    iot::JobExecutionSummaryForThing::builder()
                        .job_id("j1")
                        .job_execution_summary(
                            iot::JobExecutionSummary::builder()
                                .status(iot::JobExecutionStatus::Removed)
                                .execution_number(1)
                                .queued_at(at(1_795_674_600))
                                .last_updated_at(at(1_795_674_660))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let uri = "/things/lamp-1/jobs?status=REMOVED";
    let (status, reply, _) = call(backend(&[&rule]), "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["executionSummaries"][0]["jobId"], "j1");
    assert_eq!(
        reply["executionSummaries"][0]["jobExecution"]["status"],
        "REMOVED"
    );
    assert!(reply.get("nextToken").is_none(), "{reply}");
    assert_eq!(rule.num_calls(), 1);
}

// moto numbers executions and versions differently from AWS and loses cancelled executions.
#[tokio::test]
async fn describe_job_execution_sends_the_number_and_reads_aws_numbers() {
    let rule = mock!(aws_sdk_iot::Client::describe_job_execution)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.thing_name() == Some("lamp-1")
                && r.execution_number() == Some(2)
        })
        .then_output(|| {
            aws_sdk_iot::operation::describe_job_execution::DescribeJobExecutionOutput::builder()
                .execution(
                    iot::JobExecution::builder()
                        .job_id("j1")
                        .thing_arn("arn:aws:iot:eu-west-1:000000000000:thing/lamp-1")
                        .status(iot::JobExecutionStatus::Canceled)
                        .force_canceled(true)
                        .status_details(
                            iot::JobExecutionStatusDetails::builder()
                                .details_map("reason", "operator")
                                .build(),
                        )
                        .execution_number(2)
                        .version_number(5)
                        .queued_at(at(1_795_674_600))
                        .started_at(at(1_795_674_630))
                        .last_updated_at(at(1_795_674_660))
                        .build(),
                )
                .build()
        });
    let uri = "/jobs/j1/things/lamp-1?executionNumber=2";
    let (status, reply, _) = call(backend(&[&rule]), "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let execution = &reply["execution"];
    assert_eq!(execution["status"], "CANCELED");
    assert_eq!(execution["forceCanceled"], true);
    assert_eq!(execution["executionNumber"], 2);
    assert_eq!(execution["versionNumber"], 5);
    assert_eq!(execution["startedAt"], "2026-11-26T06:30:30Z");
    assert_eq!(
        execution["statusDetails"]["detailsMap"]["reason"],
        "operator"
    );
    assert_eq!(rule.num_calls(), 1);
}

// moto ignores expectedVersion in CancelJobExecution and has no device to put an execution
// IN_PROGRESS, where force matters.
#[tokio::test]
async fn cancel_job_execution_sends_force_version_and_details() {
    let rule = mock!(aws_sdk_iot::Client::cancel_job_execution)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.thing_name() == Some("lamp-1")
                && r.force() == Some(true)
                && r.expected_version() == Some(3)
                && r.status_details()
                    .and_then(|d| d.get("reason"))
                    .map(String::as_str)
                    == Some("recalled")
        })
        .then_output(|| {
            aws_sdk_iot::operation::cancel_job_execution::CancelJobExecutionOutput::builder()
                .build()
        });
    let body =
        json!({"expectedVersion": 3, "statusDetails": {"reason": "recalled"}, "force": true});
    let (status, reply, _) = call(
        backend(&[&rule]),
        "PUT",
        "/jobs/j1/things/lamp-1/cancel",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"canceled": true}));
    assert_eq!(rule.num_calls(), 1);
}

// moto deletes jobs whatever their status; AWS needs force for one that is not finished.
#[tokio::test]
async fn delete_job_sends_force() {
    for (uri, body, force) in [
        ("/jobs/j1", None, false),
        ("/jobs/j1?force=true", None, true),
    ] {
        let rule = mock!(aws_sdk_iot::Client::delete_job)
            .match_requests(move |r| r.job_id() == Some("j1") && r.force() == Some(force))
            .then_output(|| aws_sdk_iot::operation::delete_job::DeleteJobOutput::builder().build());
        let (status, reply, _) = call(backend(&[&rule]), "DELETE", uri, body).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {reply}");
        assert_eq!(rule.num_calls(), 1, "{uri}");
    }
}

// AWS removes a deleted thing's queued executions itself; moto does not.
#[tokio::test]
async fn delete_thing_sends_the_name_and_a_missing_thing_is_deleted() {
    let rule = mock!(aws_sdk_iot::Client::delete_thing)
        .match_requests(|r| r.thing_name() == Some("lamp-1") && r.expected_version().is_none())
        .then_output(|| aws_sdk_iot::operation::delete_thing::DeleteThingOutput::builder().build());
    let (status, reply, _) = call(backend(&[&rule]), "DELETE", "/things/lamp-1", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"deleted": true}));
    assert_eq!(rule.num_calls(), 1);
}

// On AWS, creating a thing that exists with the same attributes answers with the existing thing;
// moto refuses it. The adapter sends the attributes and passes on what AWS answers.
#[tokio::test]
async fn create_thing_sends_name_and_attributes() {
    let rule = mock!(aws_sdk_iot::Client::create_thing)
        .match_requests(|r| {
            r.thing_name() == Some("lamp-1")
                && r.attribute_payload()
                    .and_then(|p| p.attributes())
                    .and_then(|a| a.get("room"))
                    .map(String::as_str)
                    == Some("kitchen")
        })
        .then_output(|| {
            aws_sdk_iot::operation::create_thing::CreateThingOutput::builder()
                .thing_name("lamp-1")
                .thing_id("8d6e4a3c-existing")
                .thing_arn("arn:aws:iot:eu-west-1:000000000000:thing/lamp-1")
                .build()
        });
    let body = json!({"thingName": "lamp-1", "attributes": {"room": "kitchen"}});
    for _ in 0..2 {
        let (status, reply, _) =
            call(backend(&[&rule]), "POST", "/things", Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["thingId"], "8d6e4a3c-existing");
    }
    assert_eq!(rule.num_calls(), 2);
}

// moto answers 500 for a missing parent group; AWS answers ResourceNotFound.
#[tokio::test]
async fn create_thing_group_names_a_missing_parent() {
    let rule = mock!(aws_sdk_iot::Client::create_thing_group)
        .match_requests(|r| {
            r.thing_group_name() == Some("floor-1")
                && r.parent_group_name() == Some("building-9")
                && r.thing_group_properties()
                    .and_then(|p| p.thing_group_description())
                    == Some("first floor")
        })
        .then_http_response(|| aws_error("ResourceNotFoundException"));
    let body = json!({"thingGroupName": "floor-1", "parentGroupName": "building-9",
                      "thingGroupDescription": "first floor"});
    let (status, reply, _) = call(backend(&[&rule]), "POST", "/thing-groups", Some(body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
    assert_eq!(reply["code"], "ResourceNotFound");
    assert!(
        reply["error"].as_str().unwrap().contains("parentGroupName")
            && reply["error"].as_str().unwrap().contains("building-9"),
        "{reply}"
    );
    assert_eq!(rule.num_calls(), 1);
}

// moto's recursive listing differs from AWS's; the adapter asks for it and keeps AWS's order.
#[tokio::test]
async fn list_things_in_thing_group_sends_recursive_and_keeps_aws_order() {
    let rule = mock!(aws_sdk_iot::Client::list_things_in_thing_group)
        .match_requests(|r| {
            r.thing_group_name() == Some("building-1")
                && r.recursive() == Some(true)
                && r.max_results() == Some(3)
        })
        .then_output(|| {
            aws_sdk_iot::operation::list_things_in_thing_group::ListThingsInThingGroupOutput::builder()
                .things("lamp-9")
                .things("lamp-1")
                .things("fan-2")
                .next_token("more")
                .build()
        });
    let uri = "/thing-groups/building-1/things?recursive=true&maxResults=3";
    let (status, reply, _) = call(backend(&[&rule]), "GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply,
        json!({"things": ["lamp-9", "lamp-1", "fan-2"], "nextToken": "more"})
    );
    assert_eq!(rule.num_calls(), 1);
}

// moto does not enforce AWS's membership limits; AWS refuses with InvalidRequest, which the
// documented-errors test maps.
#[tokio::test]
async fn add_thing_to_thing_group_sends_both_names() {
    let rule = mock!(aws_sdk_iot::Client::add_thing_to_thing_group)
        .match_requests(|r| {
            r.thing_group_name() == Some("floor-1") && r.thing_name() == Some("lamp-1")
        })
        .then_output(|| {
            aws_sdk_iot::operation::add_thing_to_thing_group::AddThingToThingGroupOutput::builder()
                .build()
        });
    let (status, reply, _) = call(
        backend(&[&rule]),
        "PUT",
        "/thing-groups/floor-1/things/lamp-1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"added": true}));
    assert_eq!(rule.num_calls(), 1);
}
