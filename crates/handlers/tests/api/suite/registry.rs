//! Things and thing groups, as far as jobs need them.

use serde_json::json;

use crate::helpers::spawn_app;

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: CreateThing of an existing thing is not idempotent"
)]
#[tokio::test]
async fn create_thing_returns_name_id_and_arn_and_is_idempotent() {
    let app = spawn_app();
    let first = app
        .post(
            "/things",
            json!({"thingName": "lamp", "attributes": {"model": "L100"}}),
        )
        .await;
    let first = first.assert_ok().clone();
    assert_eq!(
        first["thingArn"],
        "arn:aws:iot:us-east-1:000000000000:thing/lamp"
    );
    let again = app
        .post(
            "/things",
            json!({"thingName": "lamp", "attributes": {"model": "L100"}}),
        )
        .await;
    assert_eq!(
        again.assert_ok()["thingId"],
        first["thingId"],
        "the same thing again is the same thing"
    );
    app.post("/things", json!({"thingName": "lamp"}))
        .await
        .assert_error(409, "ResourceAlreadyExists", "lamp");
    let thing = app.get("/things/lamp").await.assert_ok()["thing"].clone();
    assert_eq!(thing["attributes"], json!({"model": "L100"}));
    assert_eq!(thing["version"], 1);
}

#[tokio::test]
async fn create_thing_validates_name_and_attributes() {
    let app = spawn_app();
    app.post("/things", json!({})).await.assert_error(
        422,
        "ValidationError",
        "missing field `thingName`",
    );
    app.post("/things", json!({"thingName": ""}))
        .await
        .assert_error(422, "ValidationError", "thingName: must be 1 to 128");
    app.post("/things", json!({"thingName": "a/b"}))
        .await
        .assert_error(422, "ValidationError", "thingName: must match");
    let four = json!({"thingName": "t", "attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}});
    app.post("/things", four).await.assert_error(
        422,
        "ValidationError",
        "attributes: a thing without a thing type has at most 3",
    );
    let bad_value = json!({"thingName": "t", "attributes": {"a": "no spaces"}});
    app.post("/things", bad_value).await.assert_error(
        422,
        "ValidationError",
        "attributes: value of \"a\"",
    );
    app.post("/things", json!({"thingName": "t", "thingTypeName": "x"}))
        .await
        .assert_error(404, "ResourceNotFound", "thingTypeName: thing type \"x\"");
    app.post("/things", json!({"thingName": "t", "colour": "red"}))
        .await
        .assert_error(422, "ValidationError", "unknown field `colour`");
}

#[tokio::test]
async fn get_list_and_delete_things() {
    let app = spawn_app();
    app.create_things(&["a", "b", "c"]).await;
    app.get("/things/zzz")
        .await
        .assert_error(404, "ResourceNotFound", "zzz");
    let page = app.get("/things?maxResults=2").await.assert_ok().clone();
    assert_eq!(page["things"].as_array().unwrap().len(), 2);
    let token = page["nextToken"].as_str().unwrap();
    let rest = app
        .get(&format!("/things?maxResults=2&nextToken={token}"))
        .await
        .assert_ok()
        .clone();
    assert_eq!(rest["things"][0]["thingName"], "c");
    assert_eq!(
        app.delete("/things/a", None).await.assert_ok()["deleted"],
        true
    );
    app.get("/things/a")
        .await
        .assert_error(404, "ResourceNotFound", "\"a\"");
    app.delete("/things/a", None).await.assert_ok();
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: answers 500 for a missing parent group"
)]
#[tokio::test]
async fn thing_groups_form_hierarchies() {
    let app = spawn_app();
    app.create_group("building", None).await;
    let reply = app
        .post("/thing-groups", json!({"thingGroupName": "floor-1", "parentGroupName": "building", "thingGroupDescription": "First"}))
        .await;
    assert_eq!(
        reply.assert_ok()["thingGroupArn"],
        "arn:aws:iot:us-east-1:000000000000:thinggroup/floor-1"
    );
    app.create_group("room-1", Some("floor-1")).await;
    let group = app.get("/thing-groups/room-1").await.assert_ok()["thingGroup"].clone();
    assert_eq!(group["thingGroupMetadata"]["parentGroupName"], "floor-1");
    let chain: Vec<&str> = group["thingGroupMetadata"]["rootToParentThingGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["groupName"].as_str().unwrap())
        .collect();
    assert_eq!(chain, ["building", "floor-1"]);
    let floor = app.get("/thing-groups/floor-1").await.assert_ok()["thingGroup"].clone();
    assert_eq!(
        floor["thingGroupProperties"]["thingGroupDescription"],
        "First"
    );
    assert_eq!(floor["version"], 1);
    app.post(
        "/thing-groups",
        json!({"thingGroupName": "x", "parentGroupName": "nope"}),
    )
    .await
    .assert_error(404, "ResourceNotFound", "parentGroupName");
    app.post("/thing-groups", json!({"thingGroupName": "floor-1", "parentGroupName": "building", "thingGroupDescription": "First"}))
        .await
        .assert_ok();
    app.post("/thing-groups", json!({"thingGroupName": "floor-1"}))
        .await
        .assert_error(409, "ResourceAlreadyExists", "floor-1");
    app.get("/thing-groups/nope")
        .await
        .assert_error(404, "ResourceNotFound", "nope");
    let prefixed = app
        .get("/thing-groups?namePrefixFilter=floor")
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        prefixed["thingGroups"],
        json!([{"groupName": "floor-1", "groupArn": app.group_arn("floor-1")}])
    );
    assert_eq!(
        app.get("/thing-groups").await.assert_ok()["thingGroups"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[cfg_attr(contract_on_moto, ignore = "moto: hierarchy depth is not limited")]
#[tokio::test]
async fn hierarchies_are_at_most_seven_deep() {
    let app = spawn_app();
    app.create_group("g0", None).await;
    for level in 1..7 {
        app.create_group(&format!("g{level}"), Some(&format!("g{}", level - 1)))
            .await;
    }
    app.post(
        "/thing-groups",
        json!({"thingGroupName": "g7", "parentGroupName": "g6"}),
    )
    .await
    .assert_error(409, "LimitExceeded", "7 levels");
}

#[tokio::test]
async fn deleting_groups() {
    let app = spawn_app();
    app.create_group("parent", None).await;
    app.create_group("child", Some("parent")).await;
    app.delete("/thing-groups/parent", None)
        .await
        .assert_error(409, "Conflict", "child groups");
    app.create_thing("t").await;
    app.add_to_group("child", "t").await;
    assert_eq!(
        app.delete("/thing-groups/child", None).await.assert_ok()["deleted"],
        true,
        "a group with things can go"
    );
    app.delete("/thing-groups/parent", None).await.assert_ok();
    app.delete("/thing-groups/never-was", None)
        .await
        .assert_ok();
    app.get("/thing-groups/parent")
        .await
        .assert_error(404, "ResourceNotFound", "parent");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: recursive listing and its order differ from AWS"
)]
#[tokio::test]
async fn group_membership_and_listing() {
    let app = spawn_app();
    app.create_group("top", None).await;
    app.create_group("sub", Some("top")).await;
    app.create_things(&["a", "b", "c"]).await;
    app.add_to_group("top", "b").await;
    app.add_to_group("sub", "a").await;
    app.add_to_group("top", "b").await;
    let direct = app
        .get("/thing-groups/top/things")
        .await
        .assert_ok()
        .clone();
    assert_eq!(direct["things"], json!(["b"]));
    let all = app
        .get("/thing-groups/top/things?recursive=true")
        .await
        .assert_ok()
        .clone();
    assert_eq!(all["things"], json!(["a", "b"]));
    let paged = app
        .get("/thing-groups/top/things?recursive=true&maxResults=1")
        .await
        .assert_ok()
        .clone();
    let token = paged["nextToken"].as_str().unwrap();
    let next = app
        .get(&format!(
            "/thing-groups/top/things?recursive=true&maxResults=1&nextToken={token}"
        ))
        .await;
    assert_eq!(next.assert_ok()["things"], json!(["b"]));
    assert_eq!(
        app.delete("/thing-groups/top/things/b", None)
            .await
            .assert_ok()["removed"],
        true
    );
    app.delete("/thing-groups/top/things/b", None)
        .await
        .assert_ok();
    assert_eq!(
        app.get("/thing-groups/top/things").await.assert_ok()["things"],
        json!([])
    );
    app.get("/thing-groups/none/things")
        .await
        .assert_error(404, "ResourceNotFound", "none");
    app.put("/thing-groups/none/things/a", None)
        .await
        .assert_error(404, "ResourceNotFound", "none");
    app.put("/thing-groups/top/things/ghost", None)
        .await
        .assert_error(404, "ResourceNotFound", "ghost");
    app.delete("/thing-groups/top/things/ghost", None)
        .await
        .assert_error(404, "ResourceNotFound", "ghost");
    app.get("/thing-groups/top/things?recursive=yes")
        .await
        .assert_error(422, "ValidationError", "recursive");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: group membership limits are not enforced"
)]
#[tokio::test]
async fn a_thing_joins_one_group_per_hierarchy_and_at_most_ten() {
    let app = spawn_app();
    app.create_group("top", None).await;
    app.create_group("sub", Some("top")).await;
    app.create_thing("t").await;
    app.add_to_group("sub", "t").await;
    app.put("/thing-groups/top/things/t", None)
        .await
        .assert_error(409, "Conflict", "same hierarchy");
    for i in 0..9 {
        app.create_group(&format!("g{i}"), None).await;
        app.add_to_group(&format!("g{i}"), "t").await;
    }
    app.create_group("g9", None).await;
    app.put("/thing-groups/g9/things/t", None)
        .await
        .assert_error(409, "LimitExceeded", "10 thing groups");
}
