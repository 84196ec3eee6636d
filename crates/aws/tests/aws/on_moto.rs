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
