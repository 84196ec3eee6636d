//! The AWS adapter against mocked SDK clients (`aws-smithy-mocks`): the exact requests it sends,
//! how it reads AWS's answers, and what a client of the API sees for each documented AWS error.
//! Every reply is checked against `openapi.yaml`.
//!
//! These cover what moto cannot play. `MOTO_GAPS` lists every reason the shared suite gives for
//! ignoring a case on moto, with the tests here that cover the adapter's side of it; what remains
//! is AWS IoT's own behaviour (expanding groups, completing jobs), which no adapter test can show.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_backend::AwsIot;
use aws_sdk_iot::config::http::HttpResponse;
use aws_smithy_mocks::{mock_client, Rule, RuleMode};
use aws_smithy_types::body::SdkBody;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use models::ids::Location;
use serde_json::{json, Value};
use tower::ServiceExt;

mod catalog;
mod errors;
mod registry;
mod requests;

/// Each reason the shared suite gives for ignoring a case on moto, and the tests here that cover
/// what the adapter does in that case.
const MOTO_GAPS: &[(&str, &[&str])] = &[
    (
        "moto: ListParts answers a ListPartsResponse root, not S3's ListPartsResult, which the SDK refuses",
        &[
            "a_completed_multipart_upload_is_verifying_once_s3_has_put_its_parts_together",
            "a_missing_part_is_named_and_nothing_changes",
            "parts_s3_will_not_put_together_return_the_file_to_pending",
        ],
    ),
    (
        "moto: CreateThingType returns no thingTypeId",
        &["create_thing_type_sends_its_properties_and_returns_the_id"],
    ),
    (
        "moto: DeleteThingType ignores deprecation, its wait and the things using the type",
        &[
            "a_thing_type_aws_will_not_delete_is_a_conflict_with_its_reason",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: UpdateThing and DeleteThing ignore expectedVersion",
        &[
            "thing_updates_and_deletes_send_the_expected_version",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: UpdateThing does not limit the attributes of a thing without a type",
        &["documented_errors_of_every_operation"],
    ),
    (
        "moto: UpdateThingGroup does not bump the version it checks",
        &[
            "group_updates_send_properties_and_version_and_return_the_new_one",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: UpdateThingShadow ignores the expected version",
        &[
            "shadow_updates_send_the_expected_version_and_read_the_new_one",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: SearchIndex understands only a few query forms",
        &["search_sends_the_query_to_the_fleet_index_and_reads_its_documents"],
    ),
    (
        "moto: no dynamic thing groups",
        &["dynamic_groups_send_their_query_and_are_read_back"],
    ),
    (
        "moto: UpdateJob is not implemented",
        &[
            "update_job_sends_only_the_fields_given",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: AssociateTargetsWithJob is not implemented",
        &[
            "associate_sends_target_arns_and_the_comment",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: no jobs data plane to play the device",
        &[
            "cancel_job_execution_sends_force_version_and_details",
            "cancel_job_sends_force_comment_and_reason_code",
        ],
    ),
    (
        "moto: new jobs are QUEUED, a job status AWS never returns",
        &[
            "describe_job_reads_status_counts_and_configuration",
            "status_values_aws_adds_later_are_passed_through",
        ],
    ),
    (
        "moto: jobs never complete",
        &["describe_job_reads_status_counts_and_configuration"],
    ),
    (
        "moto: thing groups are not expanded into executions",
        &[
            "create_job_sends_arns_built_from_the_account_and_region",
            "list_job_executions_for_job_sends_status_and_page",
        ],
    ),
    (
        "moto: deleting a thing leaves its executions QUEUED",
        &[
            "delete_thing_sends_the_name_and_a_missing_thing_is_deleted",
            "list_job_executions_for_thing_sends_status_and_page",
        ],
    ),
    (
        "moto: execution numbers and versions differ from AWS",
        &["describe_job_execution_sends_the_number_and_reads_aws_numbers"],
    ),
    (
        "moto: cancelled executions cannot be found again",
        &[
            "describe_job_execution_sends_the_number_and_reads_aws_numbers",
            "delete_job_execution_without_a_number_deletes_the_latest",
        ],
    ),
    (
        "moto: CancelJobExecution ignores expectedVersion",
        &[
            "cancel_job_execution_sends_force_version_and_details",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: answers 500 where AWS answers 404",
        &["documented_errors_of_every_operation"],
    ),
    (
        "moto: answers 500 where AWS answers 404 or 409",
        &["documented_errors_of_every_operation"],
    ),
    (
        "moto: list filters are ignored",
        &[
            "list_jobs_sends_its_filters_and_page_and_returns_the_next_token",
            "list_job_executions_for_thing_sends_status_and_page",
        ],
    ),
    (
        "moto: list filters and paging are ignored",
        &["list_job_executions_for_job_sends_status_and_page"],
    ),
    (
        "moto: does not check next tokens",
        &["documented_errors_of_every_operation"],
    ),
    (
        "moto: CreateJob overwrites a job with the same id",
        &["documented_errors_of_every_operation"],
    ),
    (
        "moto: CreateJob does not check its targets",
        &[
            "create_job_sends_arns_built_from_the_account_and_region",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: DeleteJob does not check the job's status",
        &[
            "delete_job_sends_force",
            "documented_errors_of_every_operation",
        ],
    ),
    (
        "moto: CreateThing of an existing thing is not idempotent",
        &["create_thing_sends_name_and_attributes"],
    ),
    (
        "moto: answers 500 for a missing parent group",
        &["create_thing_group_names_a_missing_parent"],
    ),
    (
        "moto: hierarchy depth is not limited",
        &["documented_errors_of_every_operation"],
    ),
    (
        "moto: recursive listing and its order differ from AWS",
        &["list_things_in_thing_group_sends_recursive_and_keeps_aws_order"],
    ),
    (
        "moto: TransactWriteItems checks its conditions without isolation from concurrent requests",
        &["a_checksum_and_version_are_claimed_in_the_transaction_that_registers_the_file"],
    ),
    (
        "moto: S3 stores a PUT whatever its x-amz-checksum-sha256 says",
        &[
            "an_upload_url_signs_the_declared_sha256_for_s3_to_check",
            "bytes_s3_reports_with_another_checksum_leave_the_file_pending",
        ],
    ),
    (
        "moto: group membership limits are not enforced",
        &[
            "add_thing_to_thing_group_sends_both_names",
            "documented_errors_of_every_operation",
        ],
    ),
];

/// The reasons the shared suite gives for ignoring cases on moto.
fn ignore_reasons_in_the_suite() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../handlers/tests/api/suite");
    let mut reasons = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find("ignore = \"moto:") {
            rest = &rest[at + "ignore = \"".len()..];
            reasons.insert(rest.split('"').next().unwrap().to_owned());
        }
    }
    reasons
}

#[test]
fn every_case_moto_cannot_play_is_covered_here() {
    let suite = ignore_reasons_in_the_suite();
    assert!(suite.len() > 10, "found only {suite:?}");
    let listed: BTreeSet<String> = MOTO_GAPS.iter().map(|(r, _)| (*r).to_owned()).collect();
    assert_eq!(
        suite.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "reasons in the suite missing from MOTO_GAPS"
    );
    assert_eq!(
        listed.difference(&suite).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "reasons in MOTO_GAPS the suite no longer gives"
    );
    let here = [
        include_str!("requests.rs"),
        include_str!("errors.rs"),
        include_str!("registry.rs"),
        include_str!("catalog.rs"),
    ]
    .concat();
    for (reason, tests) in MOTO_GAPS {
        assert!(!tests.is_empty(), "{reason}: no test");
        for test in *tests {
            assert!(
                here.contains(&format!("async fn {test}()")),
                "{reason}: no test named {test}"
            );
        }
    }
}

/// What AWS says about itself in an error message; it must never reach a client of the API.
const AWS_DETAIL: &str = "arn:aws:iam::123456789012:role/internal";

/// An error response as AWS IoT sends it.
fn aws_error(code: &str) -> HttpResponse {
    let status: u16 = match code {
        "ResourceNotFoundException" => 404,
        "ResourceAlreadyExistsException"
        | "ConflictException"
        | "InvalidStateTransitionException"
        | "VersionConflictException" => 409,
        "LimitExceededException" | "TerminalStateException" => 410,
        "UnauthorizedException" => 401,
        "InternalFailureException" => 500,
        "ServiceUnavailableException" => 503,
        // InvalidRequest, CertificateValidation, and Throttling on the control plane.
        _ => 400,
    };
    let body = json!({"message": format!("{code} ({AWS_DETAIL})")}).to_string();
    let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
    response.headers_mut().insert(
        "x-amzn-ErrorType",
        format!("{code}:http://internal.amazon.com/coral/com.amazonaws.iot/"),
    );
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}

/// The account and region the adapter builds ARNs from.
fn location() -> Location {
    Location {
        region: "eu-west-1".into(),
        account: "000000000000".into(),
    }
}

/// The adapter over mocked clients that retry as the real ones do (standard mode), without the
/// real back-off pauses.
fn backend(iot_rules: &[&Rule]) -> AwsIot {
    backend_with_shadows(iot_rules, &[])
}

/// `backend`, with mocked rules for the shadow data plane too.
fn backend_with_shadows(iot_rules: &[&Rule], shadow_rules: &[&Rule]) -> AwsIot {
    let retries = || {
        aws_sdk_iot::config::retry::RetryConfig::standard()
            .with_initial_backoff(std::time::Duration::from_millis(1))
            .with_max_backoff(std::time::Duration::from_millis(1))
    };
    let iot = mock_client!(aws_sdk_iot, RuleMode::MatchAny, iot_rules, |c| c
        .retry_config(retries()));
    let shadows = mock_client!(
        aws_sdk_iotdataplane,
        RuleMode::MatchAny,
        shadow_rules,
        |c| c.retry_config(retries())
    );
    AwsIot::with_clients(iot, shadows, location())
}

/// Calls the API over `backend`; the reply is checked against `openapi.yaml`.
async fn call(
    backend: AwsIot,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value, HeaderMap) {
    let router = handlers::router(Arc::new(backend));
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = Request::builder().method(method.clone()).uri(uri);
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
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let path = uri.split('?').next().unwrap();
    crate::helpers::check_against_spec(&method, path, status, &body);
    (status, body, headers)
}
