//! Thing group updates and hierarchies, dynamic groups, shadows and search.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn groups_are_updated_and_listed_by_hierarchy() {
    let app = spawn_app();
    app.create_group("building", None).await;
    app.create_group("floor-1", Some("building")).await;
    app.create_group("room-101", Some("floor-1")).await;
    app.create_group("garage", None).await;

    let names = |reply: &crate::helpers::Reply| -> Vec<String> {
        let mut names: Vec<String> = reply.body["thingGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["groupName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let children = app
        .get("/thing-groups?parentGroup=building&recursive=false")
        .await;
    assert_eq!(names(&children), ["floor-1"]);
    let below = app.get("/thing-groups?parentGroup=building").await;
    assert_eq!(names(&below), ["floor-1", "room-101"]);
    let roots = app.get("/thing-groups?recursive=false").await;
    assert_eq!(names(&roots), ["building", "garage"]);
    app.get("/thing-groups?parentGroup=nowhere")
        .await
        .assert_error(404, "ResourceNotFound", "nowhere");

    let updated = app
        .put(
            "/thing-groups/floor-1",
            Some(json!({"thingGroupDescription": "First floor", "attributes": {"level": "1"}})),
        )
        .await;
    assert_eq!(updated.assert_ok()["version"], 2);
    let group = app.get("/thing-groups/floor-1").await.assert_ok()["thingGroup"].clone();
    assert_eq!(
        group["thingGroupProperties"],
        json!({"thingGroupDescription": "First floor", "attributes": {"level": "1"}})
    );
    assert_eq!(group["version"], 2);
    // An update that changes nothing is accepted.
    app.put("/thing-groups/floor-1", None).await.assert_ok();
    app.put(
        "/thing-groups/floor-1",
        Some(json!({"thingGroupDescription": null})),
    )
    .await
    .assert_error(
        422,
        "ValidationError",
        "thingGroupDescription: must not be null",
    );

    app.create_thing("lamp").await;
    app.add_to_group("room-101", "lamp").await;
    app.add_to_group("garage", "lamp").await;
    let groups = app.get("/things/lamp/thing-groups").await;
    assert_eq!(names(&groups), ["garage", "room-101"]);
    app.get("/things/ghost/thing-groups")
        .await
        .assert_error(404, "ResourceNotFound", "ghost");
    app.delete("/thing-groups/floor-1", None)
        .await
        .assert_error(409, "Conflict", "child groups");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: UpdateThingGroup does not bump the version it checks"
)]
#[tokio::test]
async fn expected_versions_guard_group_updates_and_deletes() {
    let app = spawn_app();
    app.create_group("g", None).await;
    app.put(
        "/thing-groups/g",
        Some(json!({"thingGroupDescription": "x", "expectedVersion": 5})),
    )
    .await
    .assert_error(409, "VersionConflict", "5");
    app.put(
        "/thing-groups/g",
        Some(json!({"thingGroupDescription": "x", "expectedVersion": 1})),
    )
    .await
    .assert_ok();
    app.delete("/thing-groups/g?expectedVersion=1", None)
        .await
        .assert_error(409, "VersionConflict", "1");
    app.delete("/thing-groups/g?expectedVersion=2", None)
        .await
        .assert_ok();
}

#[tokio::test]
async fn shadows_merge_compute_the_delta_and_are_listed() {
    let app = spawn_app();
    app.create_thing("lamp").await;
    app.get("/things/lamp/shadow")
        .await
        .assert_error(404, "ResourceNotFound", "lamp");
    let first = app
        .put(
            "/things/lamp/shadow",
            Some(json!({"desired": {"color": "red", "level": 3}})),
        )
        .await;
    assert_eq!(first.assert_ok()["version"], 1);
    app.put(
        "/things/lamp/shadow",
        Some(json!({"reported": {"color": "blue", "level": 3}})),
    )
    .await
    .assert_ok();
    let shadow = app.get("/things/lamp/shadow").await.assert_ok()["thingShadow"].clone();
    assert_eq!(shadow["state"]["delta"], json!({"color": "red"}));
    assert_eq!(shadow["version"], 2);
    assert!(shadow["metadata"]["reported"]["color"]["timestamp"].is_i64());

    app.put(
        "/things/lamp/shadow",
        Some(json!({"reported": {"color": "red", "level": null}})),
    )
    .await
    .assert_ok();
    let shadow = app.get("/things/lamp/shadow").await.assert_ok()["thingShadow"].clone();
    assert_eq!(shadow["state"]["reported"], json!({"color": "red"}));
    assert_eq!(
        shadow["state"]["delta"],
        json!({"level": 3}),
        "desired level 3 is not reported"
    );

    app.put(
        "/things/lamp/shadows/config",
        Some(json!({"desired": {"mode": "eco"}})),
    )
    .await
    .assert_ok();
    app.put(
        "/things/lamp/shadows/alarm",
        Some(json!({"reported": {"armed": true}})),
    )
    .await
    .assert_ok();
    let named = app.get("/things/lamp/shadows/config").await;
    assert_eq!(
        named.assert_ok()["thingShadow"]["state"]["desired"],
        json!({"mode": "eco"})
    );
    let mut listed: Vec<String> = serde_json::from_value(
        app.get("/things/lamp/shadows").await.assert_ok()["thingShadows"].clone(),
    )
    .unwrap();
    listed.sort();
    assert_eq!(listed, ["alarm", "config"]);

    app.delete("/things/lamp/shadows/config", None)
        .await
        .assert_ok();
    app.get("/things/lamp/shadows/config")
        .await
        .assert_error(404, "ResourceNotFound", "config");
    app.delete("/things/lamp/shadow", None).await.assert_ok();
    app.get("/things/lamp/shadow")
        .await
        .assert_error(404, "ResourceNotFound", "lamp");
}

#[tokio::test]
async fn shadow_updates_are_validated_at_the_edge() {
    let app = spawn_app();
    app.create_thing("lamp").await;
    app.put(
        "/things/lamp/shadow",
        Some(json!({"expectedVersion": null})),
    )
    .await
    .assert_error(422, "ValidationError", "expectedVersion: must not be null");
    app.put("/things/lamp/shadow", Some(json!({"desired": 3})))
        .await
        .assert_error(422, "ValidationError", "desired: must be an object or null");
    app.put(
        "/things/lamp/shadow",
        Some(json!({"reported": {"x": "y".repeat(9000)}})),
    )
    .await
    .assert_error(422, "ValidationError", "8192 bytes");
    app.put(
        "/things/lamp/shadows/bad%20name",
        Some(json!({"desired": {}})),
    )
    .await
    .assert_error(422, "ValidationError", "shadowName");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: UpdateThingShadow ignores the expected version"
)]
#[tokio::test]
async fn an_expected_shadow_version_must_match() {
    let app = spawn_app();
    app.create_thing("lamp").await;
    app.put("/things/lamp/shadow", Some(json!({"reported": {"a": 1}})))
        .await
        .assert_ok();
    app.put(
        "/things/lamp/shadow",
        Some(json!({"reported": {"a": 2}, "expectedVersion": 5})),
    )
    .await
    .assert_error(409, "VersionConflict", "5");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: SearchIndex understands only a few query forms"
)]
#[tokio::test]
async fn search_finds_things_by_registry_and_shadow_fields() {
    let app = spawn_app();
    app.post("/thing-types", json!({"thingTypeName": "LightBulb"}))
        .await
        .assert_ok();
    app.post(
        "/things",
        json!({"thingName": "lamp-1", "thingTypeName": "LightBulb", "attributes": {"watts": "60"}}),
    )
    .await
    .assert_ok();
    app.post("/things", json!({"thingName": "lamp-2", "thingTypeName": "LightBulb", "attributes": {"watts": "100"}}))
        .await
        .assert_ok();
    app.post("/things", json!({"thingName": "fan-1"}))
        .await
        .assert_ok();
    app.create_group("kitchen", None).await;
    app.add_to_group("kitchen", "fan-1").await;
    app.put(
        "/things/lamp-2/shadow",
        Some(json!({"reported": {"temp": 41}})),
    )
    .await
    .assert_ok();

    let found = |query: &'static str| {
        let app = &app;
        async move {
            let uri = format!("/things/search?queryString={}", urlencode(query));
            let reply = app.get(&uri).await;
            let mut names: Vec<String> = reply.assert_ok()["things"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["thingName"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(found("thingName:lamp*").await, ["lamp-1", "lamp-2"]);
    assert_eq!(
        found("thingTypeName:LightBulb AND attributes.watts>=100").await,
        ["lamp-2"]
    );
    assert_eq!(
        found("thingGroupNames:kitchen OR shadow.reported.temp:[40 TO 50]").await,
        ["fan-1", "lamp-2"]
    );
    assert_eq!(found("NOT thingTypeName:LightBulb").await, ["fan-1"]);
    let hot = app
        .get("/things/search?queryString=shadow.reported.temp%3E40")
        .await;
    let document = &hot.assert_ok()["things"][0];
    assert_eq!(document["thingName"], "lamp-2");
    assert_eq!(document["thingTypeName"], "LightBulb");
    assert_eq!(document["attributes"], json!({"watts": "100"}));
    assert_eq!(document["shadow"]["reported"], json!({"temp": 41}));
    assert_eq!(document["shadow"]["version"], 1);
    let fan = app
        .get("/things/search?queryString=thingName%3Afan-1")
        .await;
    assert_eq!(
        fan.assert_ok()["things"][0]["thingGroupNames"],
        json!(["kitchen"])
    );
    let page = app
        .get("/things/search?queryString=thingName%3A*&maxResults=2")
        .await;
    assert!(page.assert_ok()["nextToken"].is_string());

    app.get("/things/search?queryString=connectivity.connected%3Atrue")
        .await
        .assert_error(400, "InvalidQuery", "connectivity.connected");
    app.get("/things/search").await.assert_error(
        422,
        "ValidationError",
        "queryString: is required",
    );
    app.get("/things/search?queryString=thingName%3Aa&maxResults=101")
        .await
        .assert_error(422, "ValidationError", "maxResults");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg_attr(contract_on_moto, ignore = "moto: no dynamic thing groups")]
#[tokio::test]
async fn dynamic_groups_follow_their_query_and_feed_continuous_jobs() {
    let app = spawn_app();
    app.post(
        "/things",
        json!({"thingName": "hot", "attributes": {"temp": "45"}}),
    )
    .await
    .assert_ok();
    app.post(
        "/things",
        json!({"thingName": "cold", "attributes": {"temp": "10"}}),
    )
    .await
    .assert_ok();
    let created = app
        .post(
            "/dynamic-thing-groups",
            json!({"thingGroupName": "overheating", "queryString": "attributes.temp>40"}),
        )
        .await;
    let id = created.assert_ok()["thingGroupId"].clone();
    let again = app
        .post(
            "/dynamic-thing-groups",
            json!({"thingGroupName": "overheating", "queryString": "attributes.temp>40"}),
        )
        .await;
    assert_eq!(
        again.assert_ok()["thingGroupId"],
        id,
        "the same group again is the same group"
    );
    app.post(
        "/dynamic-thing-groups",
        json!({"thingGroupName": "overheating", "queryString": "attributes.temp>41"}),
    )
    .await
    .assert_error(409, "ResourceAlreadyExists", "different query");
    app.post("/thing-groups", json!({"thingGroupName": "overheating"}))
        .await
        .assert_error(409, "ResourceAlreadyExists", "overheating");
    let members = |reply: crate::helpers::Reply| -> Vec<String> {
        serde_json::from_value(reply.assert_ok()["things"].clone()).unwrap()
    };
    assert_eq!(
        members(app.get("/thing-groups/overheating/things").await),
        ["hot"]
    );
    let group = app.get("/thing-groups/overheating").await.assert_ok()["thingGroup"].clone();
    assert_eq!(group["queryString"], "attributes.temp>40");
    assert_eq!(group["indexName"], "AWS_Things");

    let arn = app.group_arn("overheating");
    app.create_job("cool-down", &[arn], "CONTINUOUS").await;
    let status = |thing: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/jobs/cool-down/things/{thing}"))
                .await
                .body["execution"]["status"]
                .clone()
        }
    };
    assert_eq!(status("hot").await, "QUEUED");

    // A thing that starts matching joins and gets an execution; one that stops leaves and its
    // QUEUED execution is REMOVED.
    app.put("/things/cold", Some(json!({"attributes": {"temp": "50"}})))
        .await
        .assert_ok();
    assert_eq!(status("cold").await, "QUEUED");
    app.put("/things/hot", Some(json!({"attributes": {"temp": "20"}})))
        .await
        .assert_ok();
    assert_eq!(status("hot").await, "REMOVED");
    assert_eq!(
        members(app.get("/thing-groups/overheating/things").await),
        ["cold"]
    );

    // A new query moves the membership at once.
    let updated = app
        .put(
            "/dynamic-thing-groups/overheating",
            Some(json!({"queryString": "attributes.temp<30"})),
        )
        .await;
    assert_eq!(updated.assert_ok()["version"], 2);
    assert_eq!(
        members(app.get("/thing-groups/overheating/things").await),
        ["hot"]
    );
    assert_eq!(status("cold").await, "REMOVED");

    // Shadows count too.
    app.put(
        "/dynamic-thing-groups/overheating",
        Some(json!({"queryString": "shadow.reported.alarm:true"})),
    )
    .await
    .assert_ok();
    app.put(
        "/things/cold/shadow",
        Some(json!({"reported": {"alarm": true}})),
    )
    .await
    .assert_ok();
    assert_eq!(
        members(app.get("/thing-groups/overheating/things").await),
        ["cold"]
    );
    // A REMOVED thing that comes back gets a new execution.
    let execution = app.get("/jobs/cool-down/things/cold").await.assert_ok()["execution"].clone();
    assert_eq!(execution["status"], "QUEUED");
    assert_eq!(execution["executionNumber"], 2);

    // Hand-made membership and static paths are refused; a bad query names its token.
    app.put("/thing-groups/overheating/things/hot", None)
        .await
        .assert_error(409, "Conflict", "dynamic");
    app.delete("/thing-groups/overheating", None)
        .await
        .assert_error(409, "Conflict", "/dynamic-thing-groups/");
    app.post(
        "/dynamic-thing-groups",
        json!({"thingGroupName": "x", "queryString": "temp>3"}),
    )
    .await
    .assert_error(400, "InvalidQuery", "temp");
    app.put(
        "/dynamic-thing-groups/overheating",
        Some(json!({"queryString": "thingName:(a"})),
    )
    .await
    .assert_error(400, "InvalidQuery", "queryString");
    // Nothing to change is an update all the same (merge without attributes merges nothing);
    // the members stay.
    let before = members(app.get("/thing-groups/overheating/things").await);
    app.put("/dynamic-thing-groups/overheating", None)
        .await
        .assert_ok();
    app.put(
        "/dynamic-thing-groups/overheating",
        Some(json!({"thingGroupDescription": "x", "merge": true})),
    )
    .await
    .assert_ok();
    assert_eq!(
        members(app.get("/thing-groups/overheating/things").await),
        before
    );

    // Deleting a thing REMOVES its queued execution; deleting the group ends the rest.
    app.delete("/things/cold", None).await.assert_ok();
    assert_eq!(status("cold").await, "REMOVED");
    assert_eq!(
        members(app.get("/thing-groups/overheating/things").await),
        Vec::<String>::new()
    );
    app.put(
        "/things/hot/shadow",
        Some(json!({"reported": {"alarm": true}})),
    )
    .await
    .assert_ok();
    assert_eq!(status("hot").await, "QUEUED");
    app.delete("/dynamic-thing-groups/overheating", None)
        .await
        .assert_ok();
    assert_eq!(
        status("hot").await,
        "REMOVED",
        "leaving with the group REMOVES what was queued"
    );
    app.get("/thing-groups/overheating")
        .await
        .assert_error(404, "ResourceNotFound", "overheating");
    app.delete("/dynamic-thing-groups/overheating", None)
        .await
        .assert_ok();
}
