//! Every error the AWS API reference documents for each operation the adapter calls, sent as AWS
//! sends it (status, `x-amzn-ErrorType`, JSON body) through the SDK's own deserializer, and the
//! status and code a client of the API gets for it: the same as the emulator gives for the same
//! condition.

use std::time::Duration;

use aws_sdk_iot::config::http::HttpResponse;
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};

use super::{aws_error, backend, backend_with_shadows, call, AWS_DETAIL};

/// What a request does, which decides what AWS's InvalidRequest in it means.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Change,
    /// A read: the edge validated its path, so what AWS still refuses in it is the path.
    Read,
    /// A list: the edge validated every field but the token, which only AWS reads; a token it
    /// refuses names no page (404), as the emulator says of one it did not issue.
    List,
}

/// The status and code a client gets for an AWS error code.
fn expected(code: &str, kind: Kind) -> (u16, &'static str) {
    match code {
        // A token only AWS reads and refuses names no page, as the emulator's 404 says.
        "InvalidRequestException" if kind == Kind::List => (404, "ResourceNotFound"),
        "InvalidRequestException" if kind == Kind::Read => (422, "ValidationError"),
        "InvalidRequestException" => (409, "Conflict"),
        "ResourceNotFoundException" => (404, "ResourceNotFound"),
        "ResourceAlreadyExistsException" | "ConflictException" => (409, "ResourceAlreadyExists"),
        "InvalidStateTransitionException" => (409, "InvalidStateTransition"),
        "VersionConflictException" => (409, "VersionConflict"),
        "LimitExceededException" => (409, "LimitExceeded"),
        "ThrottlingException" => (429, "Throttled"),
        "InternalFailureException" | "ServiceUnavailableException" => (503, "ServiceUnavailable"),
        // The function's role is not allowed the action: the deployment is broken, not the request.
        "UnauthorizedException" => (500, "InternalError"),
        // The adapter sends JSON with the method AWS asks for: otherwise it is broken.
        "MethodNotAllowedException" | "UnsupportedDocumentEncodingException" => {
            (500, "InternalError")
        }
        "IndexNotReadyException" => (503, "ServiceUnavailable"),
        "InvalidQueryException" => (400, "InvalidQuery"),
        "RequestEntityTooLargeException" => (422, "ValidationError"),
        other => panic!("no expectation for {other}"),
    }
}

struct Operation {
    method: &'static str,
    uri: &'static str,
    body: Option<Value>,
    /// A mock of the SDK call behind this request that fails with the given code, and the
    /// call's name. The mock matches that call alone, so a handler calling another one fails.
    fails_with: (fn(&'static str) -> Rule, &'static str),
    /// The errors the AWS API model lists for the SDK call (the variants of its error enum).
    documented: &'static [&'static str],
    kind: Kind,
    /// Errors the adapter answers differently on purpose, and what the client gets.
    except: &'static [(&'static str, u16, &'static str)],
    /// Whether the call goes to the shadow data plane rather than IoT's control plane.
    shadows: bool,
}

macro_rules! failing_shadow {
    ($op:ident) => {
        (
            |code| {
                mock!(aws_sdk_iotdataplane::Client::$op).then_http_response(move || aws_error(code))
            },
            stringify!($op),
        )
    };
}

macro_rules! failing {
    ($op:ident) => {
        (
            |code| mock!(aws_sdk_iot::Client::$op).then_http_response(move || aws_error(code)),
            stringify!($op),
        )
    };
}

const INVALID: &str = "InvalidRequestException";
const NOT_FOUND: &str = "ResourceNotFoundException";
const EXISTS: &str = "ResourceAlreadyExistsException";
const CONFLICT: &str = "ConflictException";
const STATE: &str = "InvalidStateTransitionException";
const VERSION: &str = "VersionConflictException";
const LIMIT: &str = "LimitExceededException";
const THROTTLED: &str = "ThrottlingException";
const UNAUTHORIZED: &str = "UnauthorizedException";
const UNAVAILABLE: &str = "ServiceUnavailableException";
const INTERNAL: &str = "InternalFailureException";
const QUERY: &str = "InvalidQueryException";
const NOT_READY: &str = "IndexNotReadyException";
const NOT_ALLOWED: &str = "MethodNotAllowedException";
const ENCODING: &str = "UnsupportedDocumentEncodingException";
const TOO_LARGE: &str = "RequestEntityTooLargeException";

#[rustfmt::skip]
fn operations() -> Vec<Operation> {
    let op = |method, uri, body, fails_with, documented| Operation {
        method,
        uri,
        body,
        fails_with,
        documented,
        kind: Kind::Change,
        except: &[],
        shadows: false,
    };
    let read = |method, uri, fails_with, documented| Operation {
        kind: Kind::Read,
        ..op(method, uri, None, fails_with, documented)
    };
    let list = |uri, fails_with, documented| Operation {
        kind: Kind::List,
        ..op("GET", uri, None, fails_with, documented)
    };
    let shadow = |operation: Operation| Operation { shadows: true, ..operation };
    let job = Some(json!({"jobId": "j1", "targets": ["lamp-1"], "document": "{}"}));
    let template = Some(json!({"jobTemplateId": "t1", "description": "d", "document": "{}"}));
    vec![
        op("POST", "/jobs", job, failing!(create_job),
           &[INVALID, NOT_FOUND, EXISTS, LIMIT, THROTTLED, UNAVAILABLE]),
        op("PUT", "/jobs/j1", Some(json!({"description": "d"})), failing!(update_job),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        op("PUT", "/jobs/j1/cancel", None, failing!(cancel_job),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE, LIMIT]),
        op("DELETE", "/jobs/j1", None, failing!(delete_job),
           &[INVALID, STATE, NOT_FOUND, LIMIT, THROTTLED, UNAVAILABLE]),
        read("GET", "/jobs/j1", failing!(describe_job),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        read("GET", "/jobs/j1/document", failing!(get_job_document),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        list("/jobs", failing!(list_jobs),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        op("PUT", "/jobs/j1/associate", Some(json!({"targets": ["lamp-2"]})),
           failing!(associate_targets_with_job),
           &[INVALID, NOT_FOUND, LIMIT, THROTTLED, UNAVAILABLE]),
        list("/jobs/j1/status", failing!(list_job_executions_for_job),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        read("GET", "/jobs/j1/things/lamp-1", failing!(describe_job_execution),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        op("DELETE", "/jobs/j1/things/lamp-1?executionNumber=1", None,
           failing!(delete_job_execution),
           &[STATE, NOT_FOUND, INVALID, THROTTLED, UNAVAILABLE]),
        op("PUT", "/jobs/j1/things/lamp-1/cancel", Some(json!({"expectedVersion": 2})),
           failing!(cancel_job_execution),
           &[INVALID, STATE, NOT_FOUND, THROTTLED, UNAVAILABLE, VERSION]),
        list("/things/lamp-1/jobs", failing!(list_job_executions_for_thing),
           &[INVALID, NOT_FOUND, THROTTLED, UNAVAILABLE]),
        op("POST", "/job-templates", template, failing!(create_job_template),
           &[INVALID, NOT_FOUND, CONFLICT, LIMIT, THROTTLED, INTERNAL]),
        read("GET", "/job-templates/t1", failing!(describe_job_template),
           &[INVALID, NOT_FOUND, THROTTLED, INTERNAL]),
        read("DELETE", "/job-templates/t1", failing!(delete_job_template),
           &[INVALID, NOT_FOUND, THROTTLED, INTERNAL]),
        list("/job-templates", failing!(list_job_templates),
           &[INVALID, THROTTLED, INTERNAL]),
        op("POST", "/things", Some(json!({"thingName": "lamp-1"})), failing!(create_thing),
           &[INVALID, THROTTLED, UNAUTHORIZED, UNAVAILABLE, INTERNAL, EXISTS, NOT_FOUND]),
        read("GET", "/things/lamp-1", failing!(describe_thing),
           &[INVALID, THROTTLED, UNAUTHORIZED, UNAVAILABLE, INTERNAL, NOT_FOUND]),
        list("/things", failing!(list_things),
           &[INVALID, THROTTLED, UNAUTHORIZED, UNAVAILABLE, INTERNAL]),
        Operation {
            // AWS documents deleting a missing thing as a success; some endpoints answer 404.
            except: &[(NOT_FOUND, 200, "")],
            ..op("DELETE", "/things/lamp-1", None, failing!(delete_thing),
                 &[NOT_FOUND, VERSION, INVALID, THROTTLED, UNAUTHORIZED, UNAVAILABLE, INTERNAL])
        },
        // InvalidRequest also stands for a hierarchy deeper than AWS allows. The model lists no
        // ResourceNotFound, which AWS answers for a missing parent all the same.
        op("POST", "/thing-groups", Some(json!({"thingGroupName": "g1", "parentGroupName": "g0"})),
           failing!(create_thing_group),
           &[INVALID, EXISTS, THROTTLED, INTERNAL, NOT_FOUND]),
        read("GET", "/thing-groups/g1", failing!(describe_thing_group),
           &[INVALID, THROTTLED, INTERNAL, NOT_FOUND]),
        list("/thing-groups", failing!(list_thing_groups),
           &[INVALID, INTERNAL, NOT_FOUND, THROTTLED]),
        op("DELETE", "/thing-groups/g1", None, failing!(delete_thing_group),
           &[INVALID, VERSION, THROTTLED, INTERNAL]),
        // InvalidRequest also stands for a thing in too many groups, or in two of one hierarchy.
        op("PUT", "/thing-groups/g1/things/lamp-1", None, failing!(add_thing_to_thing_group),
           &[INVALID, THROTTLED, INTERNAL, NOT_FOUND]),
        op("DELETE", "/thing-groups/g1/things/lamp-1", None,
           failing!(remove_thing_from_thing_group),
           &[INVALID, THROTTLED, INTERNAL, NOT_FOUND]),
        list("/thing-groups/g1/things", failing!(list_things_in_thing_group),
           &[INVALID, INTERNAL, NOT_FOUND, THROTTLED]),
        op("PUT", "/things/lamp-1", Some(json!({"attributes": {"a": "1"}})), failing!(update_thing),
           &[INTERNAL, INVALID, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED, VERSION]),
        list("/things/lamp-1/thing-groups", failing!(list_thing_groups_for_thing),
           &[INTERNAL, INVALID, NOT_FOUND, THROTTLED]),
        Operation {
            // Without fleet indexing AWS says ResourceNotFound: a state of the account (409).
            except: &[(NOT_FOUND, 409, "Conflict")],
            ..list("/things/search?queryString=thingName%3Alamp-1", failing!(search_index),
                   &[NOT_READY, INTERNAL, QUERY, INVALID, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED])
        },
        op("POST", "/thing-types", Some(json!({"thingTypeName": "t1"})), failing!(create_thing_type),
           &[INTERNAL, INVALID, EXISTS, UNAVAILABLE, THROTTLED, UNAUTHORIZED]),
        read("GET", "/thing-types/t1", failing!(describe_thing_type),
           &[INTERNAL, INVALID, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED]),
        list("/thing-types", failing!(list_thing_types),
           &[INTERNAL, INVALID, UNAVAILABLE, THROTTLED, UNAUTHORIZED]),
        op("PUT", "/thing-types/t1/deprecate", None, failing!(deprecate_thing_type),
           &[INTERNAL, INVALID, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED]),
        op("PUT", "/thing-types/t1/undeprecate", None, failing!(deprecate_thing_type),
           &[INTERNAL, INVALID, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED]),
        // InvalidRequest: not deprecated, deprecated too recently, or still used (409 Conflict).
        op("DELETE", "/thing-types/t1", None, failing!(delete_thing_type),
           &[INTERNAL, INVALID, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED]),
        op("PUT", "/thing-groups/g1", Some(json!({"thingGroupDescription": "d"})),
           failing!(update_thing_group),
           &[INTERNAL, INVALID, NOT_FOUND, THROTTLED, VERSION]),
        Operation {
            // Without fleet indexing AWS says ResourceNotFound: a state of the account (409).
            except: &[(NOT_FOUND, 409, "Conflict")],
            ..op("POST", "/dynamic-thing-groups", Some(json!({"thingGroupName": "g1", "queryString": "thingName:a*"})),
                 failing!(create_dynamic_thing_group),
                 &[INTERNAL, QUERY, INVALID, LIMIT, EXISTS, NOT_FOUND, THROTTLED])
        },
        op("PUT", "/dynamic-thing-groups/g1", Some(json!({"queryString": "thingName:a*"})),
           failing!(update_dynamic_thing_group),
           &[INTERNAL, QUERY, INVALID, NOT_FOUND, THROTTLED, VERSION]),
        op("DELETE", "/dynamic-thing-groups/g1", None, failing!(delete_dynamic_thing_group),
           &[INTERNAL, INVALID, THROTTLED, VERSION]),
        shadow(read("GET", "/things/lamp-1/shadow", failing_shadow!(get_thing_shadow),
           &[INTERNAL, INVALID, NOT_ALLOWED, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED, ENCODING])),
        shadow(Operation {
            // The shadow service's ConflictException is its version conflict.
            except: &[(CONFLICT, 409, "VersionConflict")],
            ..op("PUT", "/things/lamp-1/shadow", Some(json!({"desired": {"on": true}})),
                 failing_shadow!(update_thing_shadow),
                 &[CONFLICT, INTERNAL, INVALID, NOT_ALLOWED, TOO_LARGE, UNAVAILABLE, THROTTLED, UNAUTHORIZED, ENCODING])
        }),
        shadow(op("DELETE", "/things/lamp-1/shadow", None, failing_shadow!(delete_thing_shadow),
           &[INTERNAL, INVALID, NOT_ALLOWED, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED, ENCODING])),
        shadow(list("/things/lamp-1/shadows", failing_shadow!(list_named_shadows_for_thing),
           &[INTERNAL, INVALID, NOT_ALLOWED, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED])),
        shadow(read("GET", "/things/lamp-1/shadows/s1", failing_shadow!(get_thing_shadow),
           &[INTERNAL, INVALID, NOT_ALLOWED, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED, ENCODING])),
        shadow(Operation {
            except: &[(CONFLICT, 409, "VersionConflict")],
            ..op("PUT", "/things/lamp-1/shadows/s1", Some(json!({"reported": {"on": true}})),
                 failing_shadow!(update_thing_shadow),
                 &[CONFLICT, INTERNAL, INVALID, NOT_ALLOWED, TOO_LARGE, UNAVAILABLE, THROTTLED, UNAUTHORIZED, ENCODING])
        }),
        shadow(op("DELETE", "/things/lamp-1/shadows/s1", None, failing_shadow!(delete_thing_shadow),
           &[INTERNAL, INVALID, NOT_ALLOWED, NOT_FOUND, UNAVAILABLE, THROTTLED, UNAUTHORIZED, ENCODING])),
    ]
}

#[tokio::test]
async fn documented_errors_of_every_operation() {
    let operations = operations();
    let catalog = |path: &str| path.starts_with("/files") || path.starts_with("/categories");
    assert_eq!(
        operations.len(),
        handlers::OPERATIONS
            .iter()
            .filter(|o| !catalog(o.path))
            .count(),
        "one row per IoT operation of the API (the catalog's are in mocked/catalog.rs)"
    );
    let mut checked = 0;
    for operation in &operations {
        let what = format!("{} {}", operation.method, operation.uri);
        for &code in operation.documented {
            let (status, api_code) = operation
                .except
                .iter()
                .find(|(c, _, _)| *c == code)
                .map(|&(_, s, c)| (s, c))
                .unwrap_or_else(|| expected(code, operation.kind));
            let rule = (operation.fails_with.0)(code);
            let backend = if operation.shadows {
                backend_with_shadows(&[], &[&rule])
            } else {
                backend(&[&rule])
            };
            let (got, reply, headers) = call(
                backend,
                operation.method,
                operation.uri,
                operation.body.clone(),
            )
            .await;
            // The SDK retries throttling (LimitExceeded included) and faults before giving up.
            assert!(rule.num_calls() >= 1, "{what} {code}: AWS was not called");
            assert_eq!(got.as_u16(), status, "{what} {code}: {reply}");
            if status == 200 {
                continue;
            }
            assert_eq!(reply["code"], api_code, "{what} {code}: {reply}");
            // AWS's word on a refused request helps its sender; its word on its own failure does not.
            assert!(
                status < 500 || !reply["error"].as_str().unwrap().contains(AWS_DETAIL),
                "{what} {code}: AWS's message about itself reached the client: {reply}"
            );
            // A request that names something (in its path or body) is told which is missing.
            let names_something = operation.method != "GET" || operation.uri[1..].contains('/');
            match code {
                THROTTLED => assert_eq!(headers["retry-after"], "1", "{what}"),
                NOT_FOUND if names_something && api_code == "ResourceNotFound" => assert!(
                    ["j1", "lamp-1", "t1", "g0", "g1", "target"]
                        .iter()
                        .any(|name| reply["error"].as_str().unwrap().contains(name)),
                    "{what}: the message names what is missing: {reply}"
                ),
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 250, "only {checked} cases checked");
}

/// The IAM action of an SDK call: `create_job` is `iot:CreateJob`.
fn iam_action(call: &str) -> String {
    let pascal: String = call
        .split('_')
        .map(|word| word[..1].to_uppercase() + &word[1..])
        .collect();
    format!("iot:{pascal}")
}

/// Calls a handler makes beyond the one its row mocks, each shown by a test in `requests.rs`.
const FURTHER_CALLS: &[(&str, &str, &str)] = &[
    (
        "deleteJobExecution",
        "describe_job_execution",
        "delete_job_execution_without_a_number_deletes_the_latest",
    ),
    ("getClassicShadow", "describe_endpoint", SHADOW_ENDPOINT),
    ("updateClassicShadow", "describe_endpoint", SHADOW_ENDPOINT),
    ("deleteClassicShadow", "describe_endpoint", SHADOW_ENDPOINT),
    ("listNamedShadows", "describe_endpoint", SHADOW_ENDPOINT),
    ("getNamedShadow", "describe_endpoint", SHADOW_ENDPOINT),
    ("updateNamedShadow", "describe_endpoint", SHADOW_ENDPOINT),
    ("deleteNamedShadow", "describe_endpoint", SHADOW_ENDPOINT),
];

/// The test showing shadow operations ask IoT for the data endpoint (once per process).
const SHADOW_ENDPOINT: &str = "the_shadow_endpoint_is_asked_of_iot_once";

/// `cargo xtask synth` grants each operation's function exactly the `iam_actions` of the
/// operations table; here each IoT action is the SDK call the handler was seen to make, and no
/// other. The catalog's operations run their DynamoDB and S3 calls on moto in the suite, under
/// a role of exactly their actions only on AWS.
#[test]
fn the_iam_actions_of_each_operation_are_the_calls_its_handler_makes() {
    let rows = operations();
    let catalog = |path: &str| path.starts_with("/files") || path.starts_with("/categories");
    for operation in handlers::OPERATIONS.iter().filter(|o| !catalog(o.path)) {
        let row = rows
            .iter()
            .find(|r| {
                r.method == operation.method.as_str()
                    && operation.matches_path(r.uri.split('?').next().unwrap())
            })
            .unwrap_or_else(|| panic!("no row for {}", operation.id));
        let mut calls = vec![iam_action(row.fails_with.1)];
        for (id, call, test) in FURTHER_CALLS {
            if *id == operation.id {
                let tests = [include_str!("requests.rs"), include_str!("registry.rs")].concat();
                assert!(
                    tests.contains(&format!("async fn {test}()")),
                    "no test {test}"
                );
                calls.push(iam_action(call));
            }
        }
        let mut declared: Vec<String> = operation
            .iam_actions
            .iter()
            .filter(|a| a.starts_with("iot:"))
            .map(|a| (*a).to_owned())
            .collect();
        calls.sort();
        declared.sort();
        assert_eq!(declared, calls, "{}", operation.id);
    }
}

#[tokio::test]
async fn a_gateway_failure_without_an_aws_code_is_503() {
    let gateway = mock!(aws_sdk_iot::Client::describe_job).then_http_response(|| {
        HttpResponse::new(
            502.try_into().unwrap(),
            SdkBody::from("<html>Bad Gateway</html>"),
        )
    });
    let (status, reply, _) = call(backend(&[&gateway]), "GET", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{reply}"
    );
}

/// A backend whose IoT endpoint is `url`, with a short operation timeout and quick retries.
fn backend_at(url: String) -> aws_backend::AwsIot {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(url)
        .http_client(aws_backend::http_client())
        .retry_config(
            aws_sdk_iot::config::retry::RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(1)),
        )
        .timeout_config(
            aws_sdk_iot::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(300))
                .build(),
        )
        .credentials_provider(aws_sdk_iot::config::SharedCredentialsProvider::new(
            aws_sdk_iot::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build();
    aws_backend::AwsIot::new(config, super::location())
}

#[tokio::test]
async fn an_unreachable_or_silent_endpoint_is_503_not_500() {
    // Nothing listens on a port just freed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (status, reply, _) = call(backend_at(url), "GET", "/jobs/j1", None).await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{reply}"
    );

    // A listener that accepts and never answers: the operation timeout ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let keep = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let (status, reply, _) = call(backend_at(url), "GET", "/jobs/j1", None).await;
    keep.abort();
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{reply}"
    );
    assert!(
        reply["error"].as_str().unwrap().contains("in time"),
        "{reply}"
    );
}
