//! Job templates: create, get, list, delete.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn create_get_list_and_delete_a_template() {
    let app = spawn_app();
    let reply = app
        .post(
            "/job-templates",
            json!({"jobTemplateId": "reboot", "description": "Reboot", "document": "{\"op\":\"reboot\"}",
                   "presignedUrlConfig": {"roleArn": "arn:aws:iam::000000000000:role/files"},
                   "jobExecutionsRolloutConfig": {"maximumPerMinute": 50}}),
        )
        .await;
    let body = reply.assert_ok();
    assert_eq!(body["jobTemplateId"], "reboot");
    assert_eq!(
        body["jobTemplateArn"],
        "arn:aws:iot:us-east-1:000000000000:jobtemplate/reboot"
    );
    let template = app.get("/job-templates/reboot").await.assert_ok()["jobTemplate"].clone();
    assert_eq!(template["document"], "{\"op\":\"reboot\"}");
    assert_eq!(template["description"], "Reboot");
    assert_eq!(
        template["presignedUrlConfig"]["expiresInSec"], 3600,
        "expiresInSec defaults to 3600"
    );
    assert_eq!(
        template["jobExecutionsRolloutConfig"]["maximumPerMinute"],
        50
    );
    let generated = app
        .post(
            "/job-templates",
            json!({"description": "Other", "document": "{}"}),
        )
        .await;
    assert_eq!(
        generated.assert_ok()["jobTemplateId"]
            .as_str()
            .unwrap()
            .len(),
        36
    );
    let list = app.get("/job-templates").await.assert_ok().clone();
    assert_eq!(list["jobTemplates"].as_array().unwrap().len(), 2);
    assert_eq!(list["jobTemplates"][0]["jobTemplateId"], "reboot");
    let page = app
        .get("/job-templates?maxResults=1")
        .await
        .assert_ok()
        .clone();
    assert!(page["nextToken"].is_string());
    assert_eq!(
        app.delete("/job-templates/reboot", None).await.assert_ok()["deleted"],
        true
    );
    app.get("/job-templates/reboot")
        .await
        .assert_error(404, "ResourceNotFound", "reboot");
    app.delete("/job-templates/reboot", None)
        .await
        .assert_error(404, "ResourceNotFound", "reboot");
}

#[tokio::test]
async fn create_template_errors() {
    let app = spawn_app();
    let body = json!({"jobTemplateId": "t", "description": "d", "document": "{}"});
    app.post("/job-templates", body.clone()).await.assert_ok();
    app.post("/job-templates", body)
        .await
        .assert_error(409, "ResourceAlreadyExists", "\"t\"");
    app.post("/job-templates", json!({"document": "{}"}))
        .await
        .assert_error(422, "ValidationError", "missing field `description`");
    app.post("/job-templates", json!({"description": "d"}))
        .await
        .assert_error(422, "ValidationError", "missing field `document`");
    app.post(
        "/job-templates",
        json!({"description": "d", "document": "nope"}),
    )
    .await
    .assert_error(422, "ValidationError", "document: must be a JSON text");
    app.get("/job-templates/bad%3Aid")
        .await
        .assert_error(422, "ValidationError", "jobTemplateId");
}
