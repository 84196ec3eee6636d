//! The router and openapi.yaml cannot drift apart.

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::Value;

use crate::helpers::{spawn_app, spec, strict_yaml};

fn spec_operations() -> BTreeSet<(String, String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in spec()["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            operations.insert((method.to_ascii_uppercase(), path.clone(), id.to_owned()));
        }
    }
    operations
}

#[test]
fn openapi_yaml_has_no_duplicate_key() {
    // The parser the spec is read with refuses duplicates, so the spec parsing at all says so.
    let duplicate = "paths:\n  /a:\n    put: {}\n    put: {}\n";
    let refused = strict_yaml(duplicate).expect_err("a duplicate key is refused");
    assert!(refused.contains("duplicate"), "{refused}");
    strict_yaml(crate::helpers::SPEC_YAML).expect("openapi.yaml has no duplicate key");
}

#[test]
fn router_serves_exactly_the_operations_of_the_spec() {
    let served: BTreeSet<(String, String, String)> = handlers::OPERATIONS
        .iter()
        .map(|op| (op.method.to_string(), op.path.to_owned(), op.id.to_owned()))
        .collect();
    assert_eq!(
        served.len(),
        handlers::OPERATIONS.len(),
        "an operation is listed twice"
    );
    let spec = spec_operations();
    let missing: Vec<_> = spec.difference(&served).collect();
    let extra: Vec<_> = served.difference(&spec).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "in the spec only: {missing:?}; served only: {extra:?}"
    );
}

#[test]
fn operation_ids_are_unique_and_every_operation_documents_422_and_500() {
    let ops = spec_operations();
    let ids: BTreeSet<&String> = ops.iter().map(|(_, _, id)| id).collect();
    assert_eq!(ids.len(), ops.len());
    for (method, path, _) in &ops {
        let responses = &spec()["paths"][path][method.to_ascii_lowercase()]["responses"];
        for status in ["200", "422", "500", "503"] {
            assert!(
                responses.get(status).is_some(),
                "{method} {path} does not document {status}"
            );
        }
    }
}

#[test]
fn operations_with_a_body_document_400_and_413() {
    for (method, path, _) in spec_operations() {
        let operation = &spec()["paths"][&path][method.to_ascii_lowercase()];
        if operation.get("requestBody").is_some() {
            for status in ["400", "413"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_served_operation_is_routed_to_a_handler() {
    let app = spawn_app();
    for op in handlers::OPERATIONS {
        let path = op.path.replace(['{', '}'], "");
        let reply = app.call(op.method.clone(), &path, None).await;
        assert!(
            !matches!(reply.code(), "RouteNotFound" | "MethodNotAllowed"),
            "{} {} is not routed: {:?}",
            op.method,
            op.path,
            reply
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app();
    let reply = app.get("/nope").await;
    reply.assert_error(404, "RouteNotFound", "/nope");
    let reply = app.call(Method::PATCH, "/jobs/x", None).await;
    reply.assert_error(405, "MethodNotAllowed", "GET, PUT, DELETE");
    let _: &Value = &reply.body;
}

#[test]
#[should_panic(expected = "does not match")]
fn the_spec_check_rejects_a_body_missing_required_fields() {
    let body = serde_json::json!({"job": {"jobId": "x"}});
    crate::helpers::check_against_spec(&Method::GET, "/jobs/x", axum::http::StatusCode::OK, &body);
}

#[test]
#[should_panic(expected = "does not match")]
fn the_spec_check_rejects_a_timestamp_that_is_not_rfc_3339() {
    let body = serde_json::json!({"jobTemplates": [{
        "jobTemplateArn": "arn:aws:iot:us-east-1:000000000000:jobtemplate/t",
        "jobTemplateId": "t", "description": "d", "createdAt": "yesterday"}]});
    crate::helpers::check_against_spec(
        &Method::GET,
        "/job-templates",
        axum::http::StatusCode::OK,
        &body,
    );
}

#[test]
#[should_panic(expected = "does not document")]
fn the_spec_check_rejects_an_undocumented_status() {
    let body = serde_json::json!({"error": "x", "code": "Conflict"});
    crate::helpers::check_against_spec(
        &Method::GET,
        "/jobs",
        axum::http::StatusCode::CONFLICT,
        &body,
    );
}
