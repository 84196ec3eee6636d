//! The real `bootstrap` binary under a Lambda Runtime API emulated here (the three endpoints a
//! function uses), with the AWS backend against the moto server of `IOT_API_MOTO_URL`: events go
//! in through `next`, API Gateway responses come out through `response`.

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

#[derive(Default)]
struct Runtime {
    events: Mutex<VecDeque<(String, String)>>,
    responses: Mutex<Vec<(String, Value)>>,
    errors: Mutex<Vec<(String, String)>>,
    arrived: Notify,
    answered: Notify,
}

async fn next(State(runtime): State<Arc<Runtime>>) -> Response {
    loop {
        let notified = runtime.arrived.notified();
        if let Some((id, event)) = runtime.events.lock().unwrap().pop_front() {
            let mut headers = HeaderMap::new();
            headers.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).unwrap(),
            );
            headers.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_static("4102444800000"),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:000000000000:function:iot-api"),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-6745a1b2-0123456789abcdef01234567"),
            );
            return (headers, event).into_response();
        }
        notified.await;
    }
}

async fn response(
    State(runtime): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    runtime
        .responses
        .lock()
        .unwrap()
        .push((id, serde_json::from_str(&body).unwrap()));
    runtime.answered.notify_one();
    StatusCode::ACCEPTED
}

async fn error(
    State(runtime): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    runtime.errors.lock().unwrap().push((id, body));
    runtime.answered.notify_one();
    StatusCode::ACCEPTED
}

async fn init_error(State(runtime): State<Arc<Runtime>>, body: String) -> StatusCode {
    runtime.errors.lock().unwrap().push(("init".into(), body));
    runtime.answered.notify_one();
    StatusCode::ACCEPTED
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_answers_api_gateway_events_through_the_runtime_api() {
    let moto = std::env::var("IOT_API_MOTO_URL")
        .expect("IOT_API_MOTO_URL is not set: run the tests with `cargo xtask test`, which starts a moto server");
    let runtime = Arc::new(Runtime::default());
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(Arc::clone(&runtime));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let thing = format!("runtime-device-{}", std::process::id());
    let invocations = [
        ("create_thing", 200, "created"),
        ("describe_thing", 200, "thing"),
        ("describe_thing_encoded_path", 404, "error"),
        ("create_thing_malformed_body", 400, "error"),
    ];
    for (n, (fixture, _, _)) in invocations.iter().enumerate() {
        runtime
            .events
            .lock()
            .unwrap()
            .push_back((format!("request-{n}"), event(fixture, &thing)));
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "iot-api")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/iot-api")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCOUNT_ID", "000000000000")
        .env("AWS_ACCESS_KEY_ID", "moto")
        .env("AWS_SECRET_ACCESS_KEY", "moto")
        .env("AWS_ENDPOINT_URL", &moto)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let all_answered = async {
        loop {
            let answered = runtime.answered.notified();
            let done =
                runtime.responses.lock().unwrap().len() + runtime.errors.lock().unwrap().len();
            if done >= invocations.len() {
                break;
            }
            answered.await;
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(60), all_answered).await;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        finished.is_ok(),
        "not every event was answered in 60 s; logs:\n{logs}"
    );
    assert!(
        runtime.errors.lock().unwrap().is_empty(),
        "errors: {:?}\nlogs:\n{logs}",
        runtime.errors.lock().unwrap()
    );

    let responses = runtime.responses.lock().unwrap();
    for (n, (fixture, status, key)) in invocations.iter().enumerate() {
        let (_, reply) = responses
            .iter()
            .find(|(id, _)| *id == format!("request-{n}"))
            .unwrap();
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
