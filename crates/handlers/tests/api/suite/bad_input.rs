//! Whatever a client sends, the answer is a documented 4xx with the error shape, never a 5xx,
//! and every answer has the documented shape.

use axum::body::Body;
use axum::http::{header, Request};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app();
    let request = Request::post("/things")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"thingName\":"))
        .unwrap();
    app.send(request)
        .await
        .assert_error(400, "MalformedJson", "not valid JSON");
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_400() {
    let app = spawn_app();
    let request = Request::post("/things")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{\"thingName\":\"t\"}"))
        .unwrap();
    app.send(request)
        .await
        .assert_error(400, "UnsupportedMediaType", "text/plain");
    let request = Request::post("/things")
        .body(Body::from("{\"thingName\":\"t\"}"))
        .unwrap();
    app.send(request)
        .await
        .assert_error(400, "UnsupportedMediaType", "application/json");
    let request = Request::post("/things")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from("{\"thingName\":\"t\"}"))
        .unwrap();
    app.send(request).await.assert_ok();
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app();
    let huge = format!("{{\"thingName\":\"{}\"}}", "x".repeat(300 * 1024));
    let request = Request::post("/things")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    app.send(request)
        .await
        .assert_error(413, "PayloadTooLarge", "262144 bytes");
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_422() {
    let app = spawn_app();
    for body in [json!([1]), json!("text"), json!(null), json!(3)] {
        app.post("/things", body).await.assert_error(
            422,
            "ValidationError",
            "body: must be a JSON object",
        );
    }
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: new jobs are QUEUED, a job status AWS never returns"
)]
#[tokio::test]
async fn junk_sent_to_every_operation_never_gets_a_5xx() {
    let app = spawn_app();
    app.create_thing("t").await;
    app.create_job("j", &["t".into()], "CONTINUOUS").await;
    let bodies = [
        "",
        "{",
        "[]",
        "null",
        "{\"force\":\"yes\"}",
        "{\"targets\":[null]}",
        "{\"a\":{\"b\":[1,2,{}]}}",
        "\u{0}",
    ];
    let params = ["j", "t", "%00", "x%2Fy", "%E2%9C%93", &"z".repeat(300)];
    for op in handlers::OPERATIONS {
        for param in params {
            let path = op
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { param } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for body in bodies {
                for query in [
                    "",
                    "?maxResults=-1",
                    "?force=1",
                    "?nextToken=%FF",
                    "?status=queued",
                ] {
                    let request = Request::builder()
                        .method(op.method.clone())
                        .uri(format!("{path}{query}"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(body))
                        .unwrap();
                    let reply = app.send(request).await;
                    assert!(
                        reply.status.as_u16() < 500,
                        "{} {path}{query} {body:?} gave {reply:?}",
                        op.method
                    );
                }
            }
        }
    }
}
