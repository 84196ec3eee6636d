//! The requests the adapter sends for the registry operations moto cannot play, and how it reads
//! AWS's answers.

use aws_sdk_iot::operation as op;
use aws_sdk_iot::types as iot;
use aws_sdk_iotdataplane::operation as shadow_op;
use aws_smithy_mocks::mock;
use aws_smithy_types::{Blob, DateTime};
use axum::http::StatusCode;
use serde_json::json;

use super::{aws_error, backend, backend_with_shadows, call};

#[tokio::test]
async fn create_thing_type_sends_its_properties_and_returns_the_id() {
    let rule = mock!(aws_sdk_iot::Client::create_thing_type)
        .match_requests(|r| {
            let p = r.thing_type_properties().unwrap();
            r.thing_type_name() == Some("LightBulb")
                && p.thing_type_description() == Some("Bulbs")
                && p.searchable_attributes() == ["model".to_owned()]
        })
        .then_output(|| {
            op::create_thing_type::CreateThingTypeOutput::builder()
                .thing_type_name("LightBulb")
                .thing_type_id("tt-1")
                .thing_type_arn("arn:aws:iot:eu-west-1:000000000000:thingtype/LightBulb")
                .build()
        });
    let body = json!({"thingTypeName": "LightBulb", "thingTypeDescription": "Bulbs", "searchableAttributes": ["model"]});
    let (status, reply, _) = call(backend(&[&rule]), "POST", "/thing-types", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["thingTypeId"], "tt-1");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_thing_type_aws_will_not_delete_is_a_conflict_with_its_reason() {
    let rule = mock!(aws_sdk_iot::Client::delete_thing_type)
        .match_requests(|r| r.thing_type_name() == Some("LightBulb"))
        .then_http_response(|| aws_error("InvalidRequestException"));
    let (status, reply, _) =
        call(backend(&[&rule]), "DELETE", "/thing-types/LightBulb", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_eq!(reply["code"], "Conflict");
}

#[tokio::test]
async fn thing_updates_and_deletes_send_the_expected_version() {
    let update = mock!(aws_sdk_iot::Client::update_thing)
        .match_requests(|r| {
            let payload = r.attribute_payload().unwrap();
            r.thing_name() == Some("lamp-1")
                && r.expected_version() == Some(7)
                && r.thing_type_name() == Some("LightBulb")
                && payload.merge()
                && payload
                    .attributes()
                    .unwrap()
                    .get("model")
                    .map(String::as_str)
                    == Some("L2")
        })
        .then_output(|| op::update_thing::UpdateThingOutput::builder().build());
    let body = json!({"thingTypeName": "LightBulb", "attributes": {"model": "L2"}, "merge": true, "expectedVersion": 7});
    let (status, reply, _) = call(backend(&[&update]), "PUT", "/things/lamp-1", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(update.num_calls(), 1);

    let delete = mock!(aws_sdk_iot::Client::delete_thing)
        .match_requests(|r| r.thing_name() == Some("lamp-1") && r.expected_version() == Some(2))
        .then_output(|| op::delete_thing::DeleteThingOutput::builder().build());
    let (status, reply, _) = call(
        backend(&[&delete]),
        "DELETE",
        "/things/lamp-1?expectedVersion=2",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn group_updates_send_properties_and_version_and_return_the_new_one() {
    let rule = mock!(aws_sdk_iot::Client::update_thing_group)
        .match_requests(|r| {
            let p = r.thing_group_properties().unwrap();
            r.thing_group_name() == Some("floor-1")
                && r.expected_version() == Some(1)
                && p.thing_group_description() == Some("First")
                && p.attribute_payload().is_some_and(|a| a.merge())
        })
        .then_output(|| {
            op::update_thing_group::UpdateThingGroupOutput::builder()
                .version(2)
                .build()
        });
    let body = json!({"thingGroupDescription": "First", "attributes": {"level": "1"}, "merge": true, "expectedVersion": 1});
    let (status, reply, _) = call(
        backend(&[&rule]),
        "PUT",
        "/thing-groups/floor-1",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"updated": true, "version": 2}));
}

#[tokio::test]
async fn shadow_updates_send_the_expected_version_and_read_the_new_one() {
    let rule = mock!(aws_sdk_iotdataplane::Client::update_thing_shadow)
        .match_requests(|r| {
            let payload: serde_json::Value = serde_json::from_slice(r.payload().unwrap().as_ref()).unwrap();
            r.thing_name() == Some("lamp-1")
                && r.shadow_name() == Some("config")
                && payload == json!({"state": {"desired": {"mode": "eco"}, "reported": null}, "version": 4})
        })
        .then_output(|| {
            shadow_op::update_thing_shadow::UpdateThingShadowOutput::builder()
                .payload(Blob::new(r#"{"state":{"desired":{"mode":"eco"}},"version":5,"timestamp":1}"#))
                .build()
        });
    let body = json!({"desired": {"mode": "eco"}, "reported": null, "expectedVersion": 4});
    let (status, reply, _) = call(
        backend_with_shadows(&[], &[&rule]),
        "PUT",
        "/things/lamp-1/shadows/config",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"updated": true, "version": 5}));
}

#[tokio::test]
async fn search_sends_the_query_to_the_fleet_index_and_reads_its_documents() {
    let rule = mock!(aws_sdk_iot::Client::search_index)
        .match_requests(|r| {
            r.index_name() == Some("AWS_Things")
                && r.query_string() == Some("thingTypeName:LightBulb AND attributes.watts>=60")
                && r.max_results() == Some(10)
        })
        .then_output(|| {
            op::search_index::SearchIndexOutput::builder()
                .things(
                    iot::ThingDocument::builder()
                        .thing_name("lamp-1")
                        .thing_id("id-1")
                        .thing_type_name("LightBulb")
                        .thing_group_names("kitchen")
                        .attributes("watts", "60")
                        .shadow(r#"{"reported":{"temp":21},"metadata":{},"version":3}"#)
                        .build(),
                )
                .next_token("page-2")
                .build()
        });
    let (status, reply, _) = call(
        backend(&[&rule]),
        "GET",
        "/things/search?queryString=thingTypeName%3ALightBulb%20AND%20attributes.watts%3E%3D60&maxResults=10",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["things"][0]["thingGroupNames"], json!(["kitchen"]));
    assert_eq!(reply["things"][0]["shadow"]["reported"]["temp"], 21);
    assert_eq!(reply["nextToken"], "page-2");
}

#[tokio::test]
async fn dynamic_groups_send_their_query_and_are_read_back() {
    let create = mock!(aws_sdk_iot::Client::create_dynamic_thing_group)
        .match_requests(|r| {
            r.thing_group_name() == Some("hot")
                && r.index_name() == Some("AWS_Things")
                && r.query_string() == Some("shadow.reported.temp>40")
        })
        .then_output(|| {
            op::create_dynamic_thing_group::CreateDynamicThingGroupOutput::builder()
                .thing_group_name("hot")
                .thing_group_id("g-1")
                .thing_group_arn("arn:aws:iot:eu-west-1:000000000000:thinggroup/hot")
                .build()
        });
    let body = json!({"thingGroupName": "hot", "queryString": "shadow.reported.temp>40"});
    let (status, reply, _) = call(
        backend(&[&create]),
        "POST",
        "/dynamic-thing-groups",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["thingGroupId"], "g-1");

    let describe = mock!(aws_sdk_iot::Client::describe_thing_group).then_output(|| {
        op::describe_thing_group::DescribeThingGroupOutput::builder()
            .thing_group_name("hot")
            .thing_group_id("g-1")
            .version(1)
            .thing_group_metadata(
                iot::ThingGroupMetadata::builder()
                    .creation_date(DateTime::from_secs(1_700_000_000))
                    .build(),
            )
            .index_name("AWS_Things")
            .query_string("shadow.reported.temp>40")
            .query_version("2017-09-30")
            .status(iot::DynamicGroupStatus::Building)
            .build()
    });
    let (status, reply, _) = call(backend(&[&describe]), "GET", "/thing-groups/hot", None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        reply["thingGroup"]["queryString"],
        "shadow.reported.temp>40"
    );
    assert_eq!(reply["thingGroup"]["status"], "BUILDING");

    let update = mock!(aws_sdk_iot::Client::update_dynamic_thing_group)
        .match_requests(|r| {
            r.query_string() == Some("shadow.reported.temp>45") && r.expected_version() == Some(1)
        })
        .then_output(|| {
            op::update_dynamic_thing_group::UpdateDynamicThingGroupOutput::builder()
                .version(2)
                .build()
        });
    let body = json!({"queryString": "shadow.reported.temp>45", "expectedVersion": 1});
    let (status, reply, _) = call(
        backend(&[&update]),
        "PUT",
        "/dynamic-thing-groups/hot",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["version"], 2);

    let (status, reply, _) = call(
        backend(&[]),
        "POST",
        "/dynamic-thing-groups",
        Some(json!({"thingGroupName": "x", "queryString": "connectivity.connected:true"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a query outside the subset never reaches AWS: {reply}"
    );
    assert_eq!(reply["code"], "InvalidQuery");
}

#[tokio::test]
async fn the_shadow_endpoint_is_asked_of_iot_once() {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_iot::config::Credentials;
    use aws_smithy_mocks::{mock_client, RuleMode};
    use tower::ServiceExt;

    // The address IoT gives has nothing listening: the shadow call itself cannot be made.
    let describe = mock!(aws_sdk_iot::Client::describe_endpoint)
        .match_requests(|r| r.endpoint_type() == Some("iot:Data-ATS"))
        .then_output(|| {
            op::describe_endpoint::DescribeEndpointOutput::builder()
                .endpoint_address("127.0.0.1:1")
                .build()
        });
    let iot = mock_client!(aws_sdk_iot, RuleMode::MatchAny, &[&describe]);
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .http_client(aws_backend::http_client())
        .load()
        .await;
    let backend = aws_backend::AwsIot::with_discovery(iot, config, super::location());
    let router = handlers::router(std::sync::Arc::new(backend));
    for _ in 0..2 {
        let request = axum::http::Request::get("/things/lamp-1/shadow")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(
        describe.num_calls(),
        1,
        "the endpoint is found once per process"
    );
}
