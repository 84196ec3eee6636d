//! Cases the shared suite cannot set up on moto through the API, set up there with the SDK and
//! then driven through the API on the AWS backend.

use aws_sdk_iot::types::ThingTypeProperties;
use serde_json::json;

use crate::helpers::spawn_app;

/// moto's CreateThingType answers without the thingTypeId the API returns (the suite's thing type
/// cases are ignored on moto for it), so the type is made with the SDK; the rest is the API's.
#[tokio::test]
async fn thing_types_made_on_moto_are_read_deprecated_and_used_through_the_api() {
    let app = spawn_app();
    crate::backend::moto_iot()
        .create_thing_type()
        .thing_type_name("LightBulb")
        .thing_type_properties(
            ThingTypeProperties::builder()
                .thing_type_description("Bulbs")
                .searchable_attributes("model")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let described = app.get("/thing-types/LightBulb").await;
    let thing_type = &described.assert_ok()["thingType"];
    assert!(thing_type["thingTypeId"].is_string(), "{thing_type}");
    assert_eq!(
        thing_type["thingTypeProperties"],
        json!({"thingTypeDescription": "Bulbs", "searchableAttributes": ["model"]})
    );
    assert_eq!(thing_type["thingTypeMetadata"]["deprecated"], false);
    let listed = app.get("/thing-types").await;
    assert_eq!(
        listed.assert_ok()["thingTypes"][0]["thingTypeName"],
        "LightBulb"
    );
    app.get("/thing-types/Nope")
        .await
        .assert_error(404, "ResourceNotFound", "Nope");

    app.post("/things", json!({"thingName": "lamp", "thingTypeName": "LightBulb", "attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}}))
        .await
        .assert_ok();
    let typed = app.get("/things?thingTypeName=LightBulb").await;
    assert_eq!(typed.assert_ok()["things"][0]["thingName"], "lamp");

    app.put("/thing-types/LightBulb/deprecate", None)
        .await
        .assert_ok();
    let described = app.get("/thing-types/LightBulb").await;
    assert_eq!(
        described.assert_ok()["thingType"]["thingTypeMetadata"]["deprecated"],
        true
    );
    app.post(
        "/things",
        json!({"thingName": "lamp-2", "thingTypeName": "LightBulb"}),
    )
    .await
    // AWS's own message, typo included: "Can not create new thing with depreated thing type".
    .assert_error(409, "Conflict", "LightBulb");
    app.put("/thing-types/LightBulb/undeprecate", None)
        .await
        .assert_ok();
    app.post(
        "/things",
        json!({"thingName": "lamp-2", "thingTypeName": "LightBulb"}),
    )
    .await
    .assert_ok();

    app.put("/things/lamp-2", Some(json!({"thingTypeName": null})))
        .await
        .assert_ok();
    assert!(app.get("/things/lamp-2").await.assert_ok()["thing"]
        .get("thingTypeName")
        .is_none());
}

/// A multipart upload through the API's part URLs, put together on moto's S3 and then read back
/// by the verifier, for the right bytes and for wrong ones. moto's ListParts answer cannot be read
/// by the SDK (the suite's multipart cases are ignored on moto for it, and `mocked::catalog`
/// covers completion), so the test does the two steps of completion the API would: S3's
/// CompleteMultipartUpload with the ETags the part PUTs answered, and the file VERIFYING.
#[tokio::test]
async fn a_multipart_object_is_hashed_by_the_verifier_on_moto() {
    use std::collections::BTreeMap;

    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use axum::http::{Method, StatusCode};

    let app = spawn_app();
    let (s3, dynamodb) = crate::backend::moto_catalog_clients();
    let mib = 1024 * 1024;
    let bytes: Vec<u8> = (0..11 * mib + 7).map(|i| (i % 251) as u8).collect();
    let category = app.post("/categories", json!({"name": "lamps"})).await;
    let category = category.assert_ok()["category"]["categoryId"].clone();
    for (version, sent) in [("3.0", bytes.clone()), ("3.1", bytes[1..].to_vec())] {
        let registered = app
            .post(
                "/files",
                json!({"files": [{"categoryId": category, "version": version, "locale": "en-US",
                       "checksum": crate::helpers::sha256_hex(&bytes)}]}),
            )
            .await;
        let id = registered.assert_ok()["files"][0]["fileId"]
            .as_str()
            .unwrap()
            .to_owned();
        let started = app
            .post(
                &format!("/files/by-id/{id}/multipart-upload"),
                json!({"size": sent.len(), "partSize": 5 * mib}),
            )
            .await;
        let upload = started.assert_ok()["upload"].clone();
        let mut completed = Vec::new();
        for (n, part) in upload["parts"].as_array().unwrap().iter().enumerate() {
            let chunk = sent[n * 5 * mib..((n + 1) * 5 * mib).min(sent.len())].to_vec();
            let headers: BTreeMap<String, String> =
                serde_json::from_value(part["headers"].clone()).unwrap();
            let put = app
                .transfer(Method::PUT, part["url"].as_str().unwrap(), &headers, chunk)
                .await;
            assert_eq!(put.status, StatusCode::OK);
            completed.push(
                CompletedPart::builder()
                    .part_number(n as i32 + 1)
                    .e_tag(put.headers["etag"].to_str().unwrap())
                    .build(),
            );
        }
        s3.complete_multipart_upload()
            .bucket(crate::backend::BUCKET)
            .key(format!("files/{id}"))
            .upload_id(upload["uploadId"].as_str().unwrap())
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        dynamodb
            .update_item()
            .table_name(crate::backend::TABLE)
            .key("pk", AttributeValue::S(format!("file#{id}")))
            .update_expression("SET #state = :verifying")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":verifying", AttributeValue::S("VERIFYING".into()))
            .send()
            .await
            .unwrap();

        app.device.upload_completed(&id).await;
        let file = app.get(&format!("/files/by-id/{id}")).await;
        let file = file.assert_ok()["file"].clone();
        let stored = s3
            .head_object()
            .bucket(crate::backend::BUCKET)
            .key(format!("files/{id}"))
            .send()
            .await;
        if sent == bytes {
            assert_eq!(file["state"], "DRAFT", "{file}");
            assert_eq!(file["size"], bytes.len());
            assert_eq!(file["verified"], true);
            assert!(file.get("uploadError").is_none(), "{file}");
            assert!(stored.is_ok(), "the verified object stays");
        } else {
            assert_eq!(file["state"], "PENDING_UPLOAD", "{file}");
            let why = file["uploadError"].as_str().unwrap();
            assert!(why.contains(&crate::helpers::sha256_hex(&sent)), "{why}");
            assert!(stored.is_err(), "wrong bytes are deleted");
        }
    }
}
