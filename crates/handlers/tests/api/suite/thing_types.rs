//! Thing types, and updating and deleting things (the type, attributes and versions).

use serde_json::json;

use crate::helpers::spawn_app;

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: CreateThingType returns no thingTypeId"
)]
#[tokio::test]
async fn thing_types_are_created_read_listed_and_deprecated() {
    let app = spawn_app();
    let created = app
        .post(
            "/thing-types",
            json!({"thingTypeName": "LightBulb", "thingTypeDescription": "Dimmable bulbs", "searchableAttributes": ["model"]}),
        )
        .await;
    let created = created.assert_ok().clone();
    assert_eq!(
        created["thingTypeArn"],
        "arn:aws:iot:us-east-1:000000000000:thingtype/LightBulb"
    );
    let described = app.get("/thing-types/LightBulb").await;
    let thing_type = &described.assert_ok()["thingType"];
    assert_eq!(thing_type["thingTypeId"], created["thingTypeId"]);
    assert_eq!(
        thing_type["thingTypeProperties"],
        json!({"thingTypeDescription": "Dimmable bulbs", "searchableAttributes": ["model"]})
    );
    assert_eq!(thing_type["thingTypeMetadata"]["deprecated"], false);
    let listed = app.get("/thing-types?thingTypeName=LightBulb").await;
    assert_eq!(
        listed.assert_ok()["thingTypes"][0]["thingTypeName"],
        "LightBulb"
    );

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
        json!({"thingName": "lamp", "thingTypeName": "LightBulb"}),
    )
    .await
    .assert_error(409, "Conflict", "deprecated");
    app.put("/thing-types/LightBulb/undeprecate", None)
        .await
        .assert_ok();
    app.post(
        "/things",
        json!({"thingName": "lamp", "thingTypeName": "LightBulb"}),
    )
    .await
    .assert_ok();
    assert_eq!(
        app.get("/things/lamp").await.assert_ok()["thing"]["thingTypeName"],
        "LightBulb"
    );

    app.get("/thing-types/Nope")
        .await
        .assert_error(404, "ResourceNotFound", "Nope");
    app.put("/thing-types/Nope/deprecate", None)
        .await
        .assert_error(404, "ResourceNotFound", "Nope");
}

#[tokio::test]
async fn thing_type_requests_are_validated() {
    let app = spawn_app();
    let four = json!({"thingTypeName": "T", "searchableAttributes": ["a", "b", "c", "d"]});
    app.post("/thing-types", four).await.assert_error(
        422,
        "ValidationError",
        "searchableAttributes: at most 3",
    );
    app.post("/thing-types", json!({"thingTypeName": "a b"}))
        .await
        .assert_error(422, "ValidationError", "thingTypeName: must match");
    app.get("/thing-types/a%20b")
        .await
        .assert_error(422, "ValidationError", "thingTypeName");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: DeleteThingType ignores deprecation, its wait and the things using the type"
)]
#[tokio::test]
async fn a_thing_type_is_deleted_only_deprecated_waited_for_and_unused() {
    let app = spawn_app();
    app.post("/thing-types", json!({"thingTypeName": "Sensor"}))
        .await
        .assert_ok();
    app.post(
        "/things",
        json!({"thingName": "s1", "thingTypeName": "Sensor"}),
    )
    .await
    .assert_ok();
    app.delete("/thing-types/Sensor", None)
        .await
        .assert_error(409, "Conflict", "not deprecated");
    app.put("/thing-types/Sensor/deprecate", None)
        .await
        .assert_ok();
    app.delete("/thing-types/Sensor", None).await.assert_error(
        409,
        "Conflict",
        "deprecated less than 300 seconds ago",
    );
    app.delete("/thing-types/Missing", None)
        .await
        .assert_error(404, "ResourceNotFound", "Missing");
}

#[tokio::test]
async fn updating_a_thing_merges_or_replaces_its_attributes_and_bumps_its_version() {
    let app = spawn_app();
    app.post(
        "/things",
        json!({"thingName": "lamp", "attributes": {"model": "L1", "floor": "1"}}),
    )
    .await
    .assert_ok();
    app.put(
        "/things/lamp",
        Some(json!({"attributes": {"model": "L2", "floor": ""}, "merge": true})),
    )
    .await
    .assert_ok();
    let thing = app.get("/things/lamp").await.assert_ok()["thing"].clone();
    assert_eq!(thing["attributes"], json!({"model": "L2"}));
    app.put("/things/lamp", Some(json!({"attributes": {"a": "1"}})))
        .await
        .assert_ok();
    let thing = app.get("/things/lamp").await.assert_ok()["thing"].clone();
    assert_eq!(
        thing["attributes"],
        json!({"a": "1"}),
        "without merge, attributes are replaced"
    );
    let by_attribute = app.get("/things?attributeName=a&attributeValue=1").await;
    assert_eq!(
        by_attribute.assert_ok()["things"].as_array().unwrap().len(),
        1
    );
    let none = app.get("/things?attributeName=a&attributeValue=2").await;
    assert_eq!(none.assert_ok()["things"], json!([]));
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: CreateThingType returns no thingTypeId"
)]
#[tokio::test]
async fn a_thing_takes_a_type_is_listed_by_it_and_gives_it_up() {
    let app = spawn_app();
    app.post("/thing-types", json!({"thingTypeName": "LightBulb"}))
        .await
        .assert_ok();
    app.create_thing("lamp").await;
    app.put("/things/lamp", Some(json!({"thingTypeName": "LightBulb"})))
        .await
        .assert_ok();
    assert_eq!(
        app.get("/things/lamp").await.assert_ok()["thing"]["thingTypeName"],
        "LightBulb"
    );
    let typed = app.get("/things?thingTypeName=LightBulb").await;
    assert_eq!(typed.assert_ok()["things"][0]["thingName"], "lamp");
    // A null thing type takes the type away.
    app.put("/things/lamp", Some(json!({"thingTypeName": null})))
        .await
        .assert_ok();
    assert!(app.get("/things/lamp").await.assert_ok()["thing"]
        .get("thingTypeName")
        .is_none());
}

#[tokio::test]
async fn thing_updates_are_validated_at_the_edge() {
    let app = spawn_app();
    app.create_thing("lamp").await;
    // One field says what happens to the type: there is no removeThingType to contradict it.
    app.put("/things/lamp", Some(json!({"removeThingType": true})))
        .await
        .assert_error(422, "ValidationError", "unknown field `removeThingType`");
    app.put("/things/lamp", Some(json!({"attributes": null})))
        .await
        .assert_error(
            422,
            "ValidationError",
            "attributes: must not be null; leave the field out instead",
        );
    app.put("/things/lamp", Some(json!({"attributes": {"a": null}})))
        .await
        .assert_error(422, "ValidationError", "attributes.a: must not be null");
    assert_eq!(
        app.get("/things/lamp").await.assert_ok()["thing"]["version"],
        1,
        "a refused update changes nothing"
    );
    // Nothing to change is accepted: merge says how attributes apply, and none are given.
    app.put("/things/lamp", Some(json!({"merge": true})))
        .await
        .assert_ok();
    app.put("/things/lamp", None).await.assert_ok();
    app.put("/things/lamp", Some(json!({"thingTypeName": "Missing"})))
        .await
        .assert_error(404, "ResourceNotFound", "Missing");
    app.put("/things/ghost", Some(json!({"attributes": {"a": "1"}})))
        .await
        .assert_error(404, "ResourceNotFound", "ghost");
    app.get("/things?attributeName=a").await.assert_error(
        422,
        "ValidationError",
        "attributeValue: is required",
    );
    app.delete("/things/lamp?expectedVersion=x", None)
        .await
        .assert_error(422, "ValidationError", "expectedVersion");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: UpdateThing and DeleteThing ignore expectedVersion"
)]
#[tokio::test]
async fn expected_versions_guard_thing_updates_and_deletes() {
    let app = spawn_app();
    app.create_thing("lamp").await;
    app.put(
        "/things/lamp",
        Some(json!({"attributes": {"a": "1"}, "expectedVersion": 7})),
    )
    .await
    .assert_error(409, "VersionConflict", "7");
    app.put(
        "/things/lamp",
        Some(json!({"attributes": {"a": "1"}, "expectedVersion": 1})),
    )
    .await
    .assert_ok();
    app.delete("/things/lamp?expectedVersion=1", None)
        .await
        .assert_error(409, "VersionConflict", "1");
    assert_eq!(
        app.get("/things/lamp").await.assert_ok()["thing"]["version"],
        2
    );
    app.delete("/things/lamp?expectedVersion=2", None)
        .await
        .assert_ok();
    app.get("/things/lamp")
        .await
        .assert_error(404, "ResourceNotFound", "lamp");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: UpdateThing does not limit the attributes of a thing without a type"
)]
#[tokio::test]
async fn a_thing_without_a_type_keeps_at_most_three_attributes() {
    let app = spawn_app();
    app.post(
        "/things",
        json!({"thingName": "lamp", "attributes": {"a": "1", "b": "2", "c": "3"}}),
    )
    .await
    .assert_ok();
    app.put(
        "/things/lamp",
        Some(json!({"attributes": {"d": "4"}, "merge": true})),
    )
    .await
    .assert_error(409, "Conflict", "at most 3");
    assert_eq!(
        app.get("/things/lamp").await.assert_ok()["thing"]["version"],
        1,
        "nothing changed"
    );
}
