//! The AWS adapter against mocked SDK clients: the exact requests it sends, and what a client of
//! the API sees for each documented AWS error. These cover what moto cannot: UpdateJob,
//! AssociateTargetsWithJob, the jobs data plane, and AWS's errors and status values.

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

use std::sync::Arc;

use aws_backend::AwsIot;
use aws_sdk_iot::operation::associate_targets_with_job::AssociateTargetsWithJobOutput;
use aws_sdk_iot::operation::cancel_job_execution::CancelJobExecutionError;
use aws_sdk_iot::operation::create_job::CreateJobOutput;
use aws_sdk_iot::operation::create_job_template::CreateJobTemplateError;
use aws_sdk_iot::operation::delete_job::DeleteJobError;
use aws_sdk_iot::operation::describe_job::{DescribeJobError, DescribeJobOutput};
use aws_sdk_iot::operation::update_job::UpdateJobOutput;
use aws_sdk_iot::types as iot;
use aws_sdk_iot::types::error as iot_errors;
use aws_sdk_iotjobsdataplane::operation::update_job_execution::UpdateJobExecutionOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use models::ids::{JobId, Location, ThingName};
use models::job::{ExecutionStatus, UpdateJobExecution};
use models::Backend;
use serde_json::{json, Value};
use tower::ServiceExt;

/// What AWS's deserializer attaches to every modeled error: its code.
fn meta(code: &str) -> aws_sdk_iot::error::ErrorMetadata {
    aws_sdk_iot::error::ErrorMetadata::builder()
        .code(code)
        .build()
}

fn location() -> Location {
    Location {
        region: "eu-west-1".into(),
        account: "000000000000".into(),
    }
}

fn backend(iot_rules: &[&Rule], data_rules: &[&Rule]) -> AwsIot {
    let iot = mock_client!(aws_sdk_iot, RuleMode::MatchAny, iot_rules);
    let data = mock_client!(aws_sdk_iotjobsdataplane, RuleMode::MatchAny, data_rules);
    AwsIot::with_clients(iot, data, location())
}

async fn call(
    backend: AwsIot,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let router = handlers::router(Arc::new(backend));
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = router.oneshot(request.body(body).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap(), headers)
}

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
    let (status, reply, _) = call(backend(&[&rule], &[]), "POST", "/jobs", Some(body)).await;
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
    let (status, reply, _) = call(backend(&[&rule], &[]), "POST", "/jobs", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply["jobArn"], "arn:aws:iot:eu-west-1:000000000000:job/j2",
        "the ARN is built when AWS omits it"
    );
    assert_eq!(rule.num_calls(), 1);
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
    let (status, reply, _) = call(backend(&[&rule], &[]), "PUT", "/jobs/j1", Some(body)).await;
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
    let (status, reply, _) = call(
        backend(&[&rule], &[]),
        "PUT",
        "/jobs/j1/associate",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(rule.num_calls(), 1);
}

// moto has no jobs data plane.
#[tokio::test]
async fn update_job_execution_goes_to_the_jobs_data_plane() {
    let rule = mock!(aws_sdk_iotjobsdataplane::Client::update_job_execution)
        .match_requests(|r| {
            r.job_id() == Some("j1")
                && r.thing_name() == Some("lamp-1")
                && r.status()
                    == Some(&aws_sdk_iotjobsdataplane::types::JobExecutionStatus::InProgress)
                && r.expected_version() == Some(1)
        })
        .then_output(|| UpdateJobExecutionOutput::builder().build());
    let backend = backend(&[], &[&rule]);
    backend
        .update_job_execution(UpdateJobExecution {
            job_id: JobId::parse("j1").unwrap(),
            thing_name: ThingName::parse("lamp-1").unwrap(),
            status: ExecutionStatus::InProgress,
            status_details: None,
            expected_version: Some(1),
        })
        .await
        .unwrap();
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
    let (status, reply, _) = call(backend(&[&rule], &[]), "GET", "/jobs/j1", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["job"]["status"], "PAUSED");
    assert_eq!(reply["job"]["targetSelection"], "SOMETIMES");
    assert_eq!(reply["job"]["createdAt"], "2026-11-26T06:30:00Z");
}

#[tokio::test]
async fn aws_errors_become_the_same_statuses_and_codes_as_the_emulator() {
    let not_found = mock!(aws_sdk_iot::Client::describe_job).then_error(|| {
        DescribeJobError::ResourceNotFoundException(
            iot_errors::ResourceNotFoundException::builder()
                .message("Job j1 cannot be found")
                .meta(meta("ResourceNotFoundException"))
                .build(),
        )
    });
    let (status, reply, _) = call(backend(&[&not_found], &[]), "GET", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (404, Some("ResourceNotFound")),
        "{reply}"
    );

    let running = mock!(aws_sdk_iot::Client::delete_job).then_error(|| {
        DeleteJobError::InvalidStateTransitionException(
            iot_errors::InvalidStateTransitionException::builder()
                .message("Job is IN_PROGRESS")
                .meta(meta("InvalidStateTransitionException"))
                .build(),
        )
    });
    let (status, reply, _) = call(backend(&[&running], &[]), "DELETE", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (409, Some("InvalidStateTransition")),
        "{reply}"
    );

    let version = mock!(aws_sdk_iot::Client::cancel_job_execution).then_error(|| {
        CancelJobExecutionError::VersionConflictException(
            iot_errors::VersionConflictException::builder()
                .message("version mismatch")
                .meta(meta("VersionConflictException"))
                .build(),
        )
    });
    let body = json!({"expectedVersion": 3});
    let (status, reply, _) = call(
        backend(&[&version], &[]),
        "PUT",
        "/jobs/j1/things/t/cancel",
        Some(body),
    )
    .await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (409, Some("VersionConflict")),
        "{reply}"
    );

    let taken = mock!(aws_sdk_iot::Client::create_job_template).then_error(|| {
        CreateJobTemplateError::ConflictException(
            iot_errors::ConflictException::builder()
                .message("exists")
                .meta(meta("ConflictException"))
                .build(),
        )
    });
    let body = json!({"jobTemplateId": "t", "description": "d", "document": "{}"});
    let (status, reply, _) = call(
        backend(&[&taken], &[]),
        "POST",
        "/job-templates",
        Some(body),
    )
    .await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (409, Some("ResourceAlreadyExists")),
        "{reply}"
    );
}

#[tokio::test]
async fn throttling_is_429_with_retry_after_and_faults_are_503_without_aws_detail() {
    let throttled = mock!(aws_sdk_iot::Client::describe_job).then_error(|| {
        DescribeJobError::ThrottlingException(
            iot_errors::ThrottlingException::builder()
                .message("Rate exceeded")
                .meta(meta("ThrottlingException"))
                .build(),
        )
    });
    let (status, reply, headers) = call(backend(&[&throttled], &[]), "GET", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (429, Some("Throttled")),
        "{reply}"
    );
    assert_eq!(headers["retry-after"], "1");

    let failing = mock!(aws_sdk_iot::Client::describe_job).then_error(|| {
        DescribeJobError::ServiceUnavailableException(
            iot_errors::ServiceUnavailableException::builder()
                .message("node i-0abc in cell 7 is down")
                .meta(meta("ServiceUnavailableException"))
                .build(),
        )
    });
    let (status, reply, _) = call(backend(&[&failing], &[]), "GET", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{reply}"
    );
    assert!(
        !reply["error"].as_str().unwrap().contains("i-0abc"),
        "{reply}"
    );

    let gateway = mock!(aws_sdk_iot::Client::describe_job).then_http_response(|| {
        aws_sdk_iot::config::http::HttpResponse::new(
            502.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from("<html>Bad Gateway</html>"),
        )
    });
    let (status, reply, _) = call(backend(&[&gateway], &[]), "GET", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{reply}"
    );
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
    let (status, reply, _) = call(backend(&[&rule], &[]), "GET", uri, None).await;
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
    let body = json!({"comment": "superseded", "reasonCode": "SUPERSEDED"});
    let (status, reply, _) = call(
        backend(&[&rule], &[]),
        "PUT",
        "/jobs/j1/cancel?force=true",
        Some(body),
    )
    .await;
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
        backend(&[&describe, &delete], &[]),
        "DELETE",
        "/jobs/j1/things/t",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!((describe.num_calls(), delete.num_calls()), (1, 1));
}
