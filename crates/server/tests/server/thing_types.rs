//! A deprecated thing type waits, on the local server's clock, before it can be deleted.

use super::device::local_with;
use super::*;

#[test]
fn a_deprecated_thing_type_waits_five_minutes_by_default() {
    assert_eq!(config(&[]).thing_type_delete_wait, 300);
    assert_eq!(
        config(&["--thing-type-delete-wait", "0"]).thing_type_delete_wait,
        0
    );
}

#[tokio::test]
async fn a_deprecated_thing_type_is_deleted_after_its_wait_once_no_thing_uses_it() {
    let local = local_with(&[
        "--memory",
        "--manual-clock",
        "--thing-type-delete-wait",
        "120",
    ])
    .await;
    let delete = || async { http(local.api, Method::DELETE, "/thing-types/Sensor", &[], "").await };
    local
        .post(
            "/thing-types",
            serde_json::json!({"thingTypeName": "Sensor"}),
        )
        .await;
    local
        .post(
            "/things",
            serde_json::json!({"thingName": "s1", "thingTypeName": "Sensor"}),
        )
        .await;
    let put = |path: &'static str, body: &'static str| async move {
        let reply = http(
            local.api,
            Method::PUT,
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    };
    put("/thing-types/Sensor/deprecate", "").await;

    // The wait runs from the deprecation; undeprecating clears it, so it starts again.
    local.advance(100).await;
    put("/thing-types/Sensor/undeprecate", "").await;
    put("/thing-types/Sensor/deprecate", "").await;
    local.advance(60).await;
    let refused = delete().await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("less than 120 seconds ago")
            && refused.body.contains("60 seconds from now"),
        "{}",
        refused.body
    );
    let described = local.get("/thing-types/Sensor").await;
    assert_eq!(
        described["thingType"]["thingTypeMetadata"]["deprecated"],
        true
    );

    local.advance(60).await;
    let refused = delete().await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("still used by 1 thing(s) (s1)"),
        "{}",
        refused.body
    );

    put("/things/s1", r#"{"thingTypeName":null}"#).await;
    let deleted = delete().await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    let gone = http(local.api, Method::GET, "/thing-types/Sensor", &[], "").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
}
