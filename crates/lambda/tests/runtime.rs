//! The real `bootstrap` binary under an emulated Lambda Runtime API (`test_support::runtime_api`),
//! with the AWS backend against the moto server of `IOT_API_MOTO_URL`: events go in through
//! `next`, API Gateway responses come out through `response`.

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

#[allow(dead_code)] // The timings it records are for `cargo xtask bench cold-start`.
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::runtime_api::RuntimeApi;

/// The fixture with its thing names (`lamp-1`, `lamp-2`) replaced by `thing`, which must not
/// itself contain `lamp-` (the replacements run one after the other).
fn event(fixture: &str, thing: &str) -> String {
    assert!(!thing.contains("lamp-"), "{thing}");
    let path = format!("{}/tests/events/{fixture}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .replace("lamp-1", thing)
        .replace("lamp-2", thing)
}

/// The real bootstrap as Lambda starts function `name`: nothing of this process's environment,
/// the Runtime API's address, what Lambda sets, and the stack's region and account.
fn bootstrap(runtime: &RuntimeApi, name: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCOUNT_ID", "000000000000");
    command
}

/// Runs the bootstrap until it has answered `count` events (at most 60 s), then stops it; its logs.
async fn answer_all(command: &mut Command, runtime: &RuntimeApi, count: usize) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let finished = runtime.wait_for(count, Duration::from_secs(60)).await;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        finished,
        "not every event was answered in 60 s; logs:\n{logs}"
    );
    logs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_answers_api_gateway_events_through_the_runtime_api() {
    let moto = std::env::var("IOT_API_MOTO_URL")
        .expect("IOT_API_MOTO_URL is not set: run the tests with `cargo xtask test`, which starts a moto server");
    let runtime = RuntimeApi::start().await.unwrap();

    let thing = format!("runtime-device-{}", std::process::id());
    let invocations = [
        ("create_thing", 200, "created"),
        ("describe_thing", 200, "thing"),
        ("describe_thing_encoded_path", 404, "error"),
        ("create_thing_malformed_body", 400, "error"),
    ];
    for (n, (fixture, _, _)) in invocations.iter().enumerate() {
        runtime.push(format!("request-{n}"), event(fixture, &thing));
    }

    let mut function = bootstrap(&runtime, "iot-api");
    function
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/iot-api")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_ACCESS_KEY_ID", "moto")
        .env("AWS_SECRET_ACCESS_KEY", "moto")
        // The service-specific variable (cargo xtask bench cold-start uses AWS_ENDPOINT_URL).
        .env("AWS_ENDPOINT_URL_IOT", &moto);
    let logs = answer_all(&mut function, &runtime, invocations.len()).await;
    assert!(
        runtime.init_errors().is_empty(),
        "init errors: {:?}\nlogs:\n{logs}",
        runtime.init_errors()
    );

    let answers = runtime.answers();
    for (n, (fixture, status, key)) in invocations.iter().enumerate() {
        let answer = answers
            .iter()
            .find(|a| a.id == format!("request-{n}"))
            .unwrap();
        assert!(!answer.failed, "{fixture}: {}\nlogs:\n{logs}", answer.body);
        let reply: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(reply["statusCode"], *status, "{fixture}: {reply}");
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert!(body.get(*key).is_some(), "{fixture}: {body}");
    }
    let first_line = logs
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON log line:\n{logs}"));
    let line: Value = serde_json::from_str(first_line).unwrap();
    assert!(line.get("level").is_some(), "{first_line}");
    assert!(
        logs.contains("request-0"),
        "log lines carry the request id:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_cannot_start_tells_the_runtime_api_why() {
    let runtime = RuntimeApi::start().await.unwrap();
    // No AWS_ACCOUNT_ID: the backend cannot name its resources' ARNs.
    let output = tokio::task::spawn_blocking({
        let api = runtime.addr.to_string();
        move || {
            Command::new(env!("CARGO_BIN_EXE_bootstrap"))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("AWS_LAMBDA_RUNTIME_API", api)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "moto")
                .env("AWS_SECRET_ACCESS_KEY", "moto")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "it started anyway:\n{logs}");
    let errors = runtime.init_errors();
    assert_eq!(errors.len(), 1, "{errors:?}\nlogs:\n{logs}");
    let error: Value = serde_json::from_str(&errors[0]).unwrap();
    assert_eq!(error["errorType"], lambda::INIT_ERROR_TYPE, "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("AWS_ACCOUNT_ID"),
        "{error}"
    );
    assert!(runtime.answers().is_empty());
}

/// An S3 notification of a completed multipart upload, as the files bucket sends it.
fn s3_event(key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-12-03T12:00:00.000Z",
        "eventName": "ObjectCreated:CompleteMultipartUpload",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "198.51.100.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "verify-multipart-uploads",
            "bucket": {"name": "iot-api-files", "arn": "arn:aws:s3:::iot-api-files"},
            "object": {"key": key, "size": 12582912, "eTag": "0123456789abcdef0123456789abcdef-3"}
        }
    }]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_takes_s3_events_through_the_runtime_api() {
    let runtime = RuntimeApi::start().await.unwrap();
    // Not a file's object: answered without a call to AWS, which shows the event was read.
    runtime.push("event-0", s3_event("exports/report.csv"));
    let mut function = bootstrap(&runtime, "iot-api-verifier");
    function
        .env(lambda::FUNCTION_VARIABLE, lambda::VERIFIER)
        .env("IOT_API_FILES_TABLE", "iot-api-files")
        .env("IOT_API_FILES_BUCKET", "iot-api-files")
        .env(
            "IOT_API_PRESIGN_ROLE_ARN",
            "arn:aws:iam::000000000000:role/iot-api-presign",
        );
    let logs = answer_all(&mut function, &runtime, 1).await;
    let answer = &runtime.answers()[0];
    assert!(!answer.failed, "{}\nlogs:\n{logs}", answer.body);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["objects"][0]["verdict"], "ignored", "{body}");
    assert_eq!(body["objects"][0]["key"], "exports/report.csv", "{body}");
}
