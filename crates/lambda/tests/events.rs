//! Real API Gateway REST proxy events, kept in `tests/events/`, go through lambda_http's own
//! conversion into the router the function serves: every operation at least once, the stage in
//! the path, a URL-encoded path parameter, a base64 body, a missing body and a malformed one.

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The app over a fresh emulator with a few resources the events name.
async fn seeded_app() -> axum::Router {
    lambda::ignore_stage_in_path();
    // No wait after deprecation, so that a deprecated thing type can be deleted at once.
    let backend =
        emulator::Emulator::open(&emulator::Storage::Memory, emulator::default_location())
            .unwrap()
            .with_thing_type_delete_wait(std::time::Duration::ZERO);
    let app = lambda::app(Arc::new(backend), &[]).unwrap();
    let seed = [
        (
            "POST",
            "/thing-types",
            json!({"thingTypeName": "LightBulb"}),
        ),
        ("POST", "/thing-types", json!({"thingTypeName": "Retired"})),
        ("PUT", "/thing-types/Retired/deprecate", json!({})),
        ("POST", "/categories", json!({"name": "firmware"})),
        ("POST", "/categories", json!({"name": "retired"})),
        (
            "POST",
            "/files",
            // sha256("seeded"), under the category "firmware" (md5("firmware")).
            json!({"files": [{"categoryId": "74b5b5e9570efc5c0553bb327cd41940", "version": "0.9",
                   "locale": "en-US", "checksum": "d427d15fe148d6a93b1f7d31016f78cb0b2f8d41b2b1a19ae4cafa7c355e98cd"}]}),
        ),
        ("POST", "/things", json!({"thingName": "lamp-1"})),
        ("POST", "/things", json!({"thingName": "lamp-3"})),
        ("POST", "/things", json!({"thingName": "lamp:1"})),
        (
            "POST",
            "/thing-groups",
            json!({"thingGroupName": "floor-1"}),
        ),
        ("PUT", "/thing-groups/floor-1/things/lamp-3", json!({})),
        (
            "POST",
            "/dynamic-thing-groups",
            json!({"thingGroupName": "lamps", "queryString": "thingName:lamp*"}),
        ),
        (
            "PUT",
            "/things/lamp-1/shadow",
            json!({"reported": {"on": true}}),
        ),
        (
            "PUT",
            "/things/lamp-1/shadows/config",
            json!({"desired": {"mode": "eco"}}),
        ),
        (
            "POST",
            "/jobs",
            json!({"jobId": "firmware-1", "targets": ["lamp-1"], "targetSelection": "CONTINUOUS", "document": "{}"}),
        ),
        (
            "POST",
            "/job-templates",
            json!({"jobTemplateId": "reboot", "description": "Reboot", "document": "{}"}),
        ),
    ];
    for (method, path, body) in seed {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "seeding {method} {path}");
    }
    app
}

async fn invoke(app: &axum::Router, fixture: &str) -> (u16, Value) {
    let path = format!("{}/tests/events/{fixture}.json", env!("CARGO_MANIFEST_DIR"));
    let event = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request =
        lambda_http::request::from_str(&event).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn every_operation_answers_its_real_api_gateway_event() {
    let cases: [(&str, u16, &str); 68] = [
        ("search_things", 200, "things"),
        ("update_thing", 200, "updated"),
        ("list_thing_groups_for_thing", 200, "thingGroups"),
        ("get_classic_shadow", 200, "thingShadow"),
        ("update_classic_shadow", 200, "version"),
        ("delete_classic_shadow", 200, "deleted"),
        ("list_named_shadows", 200, "thingShadows"),
        ("get_named_shadow", 200, "thingShadow"),
        ("update_named_shadow", 200, "version"),
        ("delete_named_shadow", 200, "deleted"),
        ("create_thing_type", 200, "thingTypeId"),
        ("list_thing_types", 200, "thingTypes"),
        ("describe_thing_type", 200, "thingType"),
        ("delete_thing_type", 200, "deleted"),
        ("deprecate_thing_type", 200, "deprecated"),
        ("undeprecate_thing_type", 200, "undeprecated"),
        ("update_thing_group", 200, "version"),
        ("create_dynamic_thing_group", 200, "thingGroupArn"),
        ("update_dynamic_thing_group", 200, "version"),
        ("delete_dynamic_thing_group", 200, "deleted"),
        ("create_thing", 200, "created"),
        ("list_things", 200, "things"),
        ("describe_thing", 200, "thing"),
        ("describe_thing_encoded_path", 200, "thing"),
        ("delete_thing", 200, "deleted"),
        ("create_thing_group", 200, "created"),
        ("list_thing_groups", 200, "thingGroups"),
        ("describe_thing_group", 200, "thingGroup"),
        ("delete_thing_group", 200, "deleted"),
        ("add_thing_to_thing_group", 200, "added"),
        ("remove_thing_from_thing_group", 200, "removed"),
        ("list_things_in_thing_group", 200, "things"),
        ("create_job", 200, "jobArn"),
        ("list_jobs", 200, "jobs"),
        ("describe_job", 200, "job"),
        ("update_job", 200, "updated"),
        ("associate_targets_with_job", 200, "associated"),
        ("get_job_document", 200, "document"),
        ("list_job_executions_for_job", 200, "executionSummaries"),
        ("describe_job_execution", 200, "execution"),
        ("list_job_executions_for_thing", 200, "executionSummaries"),
        ("cancel_job_execution", 200, "canceled"),
        ("cancel_job_base64_body", 200, "canceled"),
        ("delete_job_forced_in_query", 200, "deleted"),
        ("create_job_template", 200, "created"),
        ("list_job_templates", 200, "jobTemplates"),
        ("describe_job_template", 200, "jobTemplate"),
        ("delete_job_template", 200, "deleted"),
        ("create_category", 200, "category"),
        ("list_categories", 200, "categories"),
        ("describe_category", 200, "category"),
        ("update_category", 200, "updated"),
        ("delete_category", 200, "deleted"),
        ("list_files_in_category", 200, "files"),
        ("create_files", 200, "files"),
        ("list_files", 200, "files"),
        ("find_file", 200, "files"),
        // File ids are the server's to choose: an unknown one shows the route and its parameters.
        ("update_files_unknown", 404, "error"),
        ("delete_files_unknown", 404, "error"),
        ("describe_file_unknown", 404, "error"),
        ("publish_file_unknown", 404, "error"),
        ("deprecate_file_unknown", 404, "error"),
        ("start_file_upload_unknown", 404, "error"),
        ("start_multipart_upload_unknown", 404, "error"),
        ("complete_file_upload_unknown", 404, "error"),
        ("download_file_unknown", 404, "error"),
        // Without a body, the delete of a QUEUED execution has no force: refused, not a crash.
        ("delete_job_execution_missing_body", 409, "error"),
        ("create_thing_malformed_body", 400, "error"),
    ];
    for (fixture, status, key) in cases {
        let app = seeded_app().await;
        let (got, body) = invoke(&app, fixture).await;
        assert_eq!(got, status, "{fixture}: {body}");
        assert!(body.get(key).is_some(), "{fixture}: no {key:?} in {body}");
    }
}

#[tokio::test]
async fn the_stage_is_not_part_of_the_route_and_encoded_names_are_decoded() {
    let app = seeded_app().await;
    let (_, body) = invoke(&app, "describe_thing_encoded_path").await;
    assert_eq!(body["thing"]["thingName"], "lamp:1");
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let app = seeded_app().await;
    invoke(&app, "cancel_job_base64_body").await;
    let (_, body) = invoke(&app, "describe_job").await;
    assert_eq!(body["job"]["comment"], "superseded");
    assert_eq!(body["job"]["reasonCode"], "SUPERSEDED");
}

#[test]
fn every_operation_has_a_fixture() {
    let dir = format!("{}/tests/events", env!("CARGO_MANIFEST_DIR"));
    let mut covered = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        covered.insert((
            event["httpMethod"].as_str().unwrap().to_owned(),
            event["resource"].as_str().unwrap().to_owned(),
        ));
    }
    for op in handlers::OPERATIONS {
        assert!(
            covered.contains(&(op.method.to_string(), op.path.to_owned())),
            "no event for {} {}",
            op.method,
            op.path
        );
    }
}

#[tokio::test]
async fn cors_headers_follow_the_configured_origins() {
    let backend =
        emulator::Emulator::open(&emulator::Storage::Memory, emulator::default_location()).unwrap();
    let origins = vec!["https://console.example.com".to_owned()];
    let app = lambda::app(Arc::new(backend), &origins).unwrap();
    for (origin, allowed) in [
        ("https://console.example.com", true),
        ("https://elsewhere.example.com", false),
    ] {
        let request = axum::http::Request::get("/things")
            .header("origin", origin)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_some(),
            allowed,
            "{origin}"
        );
    }
    let refused = lambda::app(
        Arc::new(
            emulator::Emulator::open(&emulator::Storage::Memory, emulator::default_location())
                .unwrap(),
        ),
        &["bad\norigin".to_owned()],
    );
    assert!(refused.unwrap_err().contains("IOT_API_CORS_ORIGINS"));
}

#[tokio::test]
async fn the_console_function_serves_its_page_and_tells_how_to_sign_in() {
    lambda::ignore_stage_in_path();
    let page = lambda::console_page(|name| match name {
        "IOT_API_CONSOLE_USER_POOL_CLIENT_ID" => Some("client123".into()),
        "IOT_API_CONSOLE_USER_POOL_REGION" => Some("eu-west-1".into()),
        "IOT_API_CONSOLE_UPLOAD_ORIGIN" => Some("https://files.s3.eu-west-1.amazonaws.com".into()),
        _ => None,
    })
    .unwrap();
    let app = lambda::console_app(page);
    let event = |fixture: &str| {
        let path = format!("{}/tests/events/{fixture}.json", env!("CARGO_MANIFEST_DIR"));
        lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let page = app.clone().oneshot(event("console_page")).await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains(
            "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com https://files.s3.eu-west-1.amazonaws.com;"
        ),
        "{policy}"
    );
    let html = page.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&html).contains("console/console.js"));
    let config = app.oneshot(event("console_config")).await.unwrap();
    assert_eq!(config.status(), 200);
    let config: Value =
        serde_json::from_slice(&config.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        config,
        json!({"signIn": "COGNITO_USER_POOLS", "clientId": "client123", "region": "eu-west-1",
               "endpoint": "https://cognito-idp.eu-west-1.amazonaws.com/", "docs": false})
    );
}

#[test]
fn the_console_signs_in_with_nothing_unless_a_client_is_named_and_refuses_half_a_setting() {
    assert_eq!(
        lambda::console_sign_in(|_| None).unwrap(),
        handlers::console::SignIn::Nothing
    );
    let error = lambda::console_sign_in(|name| {
        (name == "IOT_API_CONSOLE_USER_POOL_CLIENT_ID").then(|| "client".to_owned())
    })
    .unwrap_err();
    assert!(
        error.contains("IOT_API_CONSOLE_USER_POOL_REGION"),
        "{error}"
    );
    let error = lambda::console_sign_in(|name| match name {
        "IOT_API_CONSOLE_USER_POOL_CLIENT_ID" => Some("client".into()),
        "IOT_API_CONSOLE_USER_POOL_REGION" => Some("eu-west-1".into()),
        _ => Some("ftp://elsewhere".into()),
    })
    .unwrap_err();
    assert!(
        error.contains("IOT_API_CONSOLE_COGNITO_ENDPOINT"),
        "{error}"
    );
    let error = lambda::console_page(|name| {
        (name == "IOT_API_CONSOLE_UPLOAD_ORIGIN")
            .then(|| "https://bucket.example.com; script-src *".to_owned())
    })
    .unwrap_err();
    assert!(error.contains("IOT_API_CONSOLE_UPLOAD_ORIGIN"), "{error}");
}
