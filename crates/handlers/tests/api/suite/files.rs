//! The firmware catalog: categories, files, their bytes through presigned URLs, their lifecycle,
//! and jobs that deliver them. Every refusal names its rule and changes nothing stored.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{sha256_hex, spawn_app, TestApp};

const FIRMWARE: &[u8] = b"lamp firmware 2.1: not really a firmware, but bytes all the same";

async fn category(app: &TestApp, name: &str, parent: Option<&str>) -> String {
    let mut body = json!({ "name": name });
    if let Some(parent) = parent {
        body["parentId"] = json!(parent);
    }
    let reply = app.post("/categories", body).await;
    reply.assert_ok()["category"]["categoryId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn new_file(category: &str, version: &str, bytes: &[u8]) -> Value {
    json!({
        "categoryId": category,
        "version": version,
        "locale": "en-US",
        "checksum": sha256_hex(bytes),
        "summary": "lamp firmware",
    })
}

async fn register(app: &TestApp, file: Value) -> Value {
    let reply = app.post("/files", json!({ "files": [file] })).await;
    reply.assert_ok()["files"][0].clone()
}

/// Uploads `bytes` for a file through the URL the API gives; returns the PUT's status.
async fn upload(app: &TestApp, file_id: &str, bytes: &[u8]) -> StatusCode {
    let reply = app
        .post(
            &format!("/files/by-id/{file_id}/upload"),
            json!({ "size": bytes.len() }),
        )
        .await;
    let upload = &reply.assert_ok()["upload"];
    assert_eq!(upload["method"], "PUT");
    let headers: BTreeMap<String, String> =
        serde_json::from_value(upload["headers"].clone()).unwrap();
    app.transfer(
        Method::PUT,
        upload["url"].as_str().unwrap(),
        &headers,
        bytes.to_vec(),
    )
    .await
    .status
}

/// A file registered, uploaded and completed: DRAFT.
async fn uploaded(app: &TestApp, category: &str, version: &str, bytes: &[u8]) -> String {
    let file = register(app, new_file(category, version, bytes)).await;
    let id = file["fileId"].as_str().unwrap().to_owned();
    assert_eq!(upload(app, &id, bytes).await, StatusCode::OK);
    app.call(
        Method::POST,
        &format!("/files/by-id/{id}/upload/complete"),
        None,
    )
    .await
    .assert_ok();
    id
}

async fn published(app: &TestApp, category: &str, version: &str, bytes: &[u8]) -> String {
    let id = uploaded(app, category, version, bytes).await;
    app.put(&format!("/files/by-id/{id}/publish"), None)
        .await
        .assert_ok();
    id
}

async fn file(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/files/by-id/{id}")).await.assert_ok()["file"].clone()
}

#[tokio::test]
async fn category_ids_are_the_md5_of_their_names_and_parents_must_exist() {
    let app = spawn_app();
    let root = category(&app, "abc", None).await;
    // md5("abc"), as the original package derived a root category's id.
    assert_eq!(root, "900150983cd24fb0d6963f7d28e17f72");
    let child = category(&app, "lamps", Some(&root)).await;
    assert_eq!(
        child,
        models::digest::md5_hex(format!("{root}-lamps").as_bytes())
    );

    app.post("/categories", json!({ "name": "abc" }))
        .await
        .assert_error(409, "ResourceAlreadyExists", "already exists");
    app.post(
        "/categories",
        json!({ "name": "x", "parentId": "0123456789abcdef0123456789abcdef" }),
    )
    .await
    .assert_error(404, "ResourceNotFound", "parentId");
    app.post("/categories", json!({ "name": "" }))
        .await
        .assert_error(422, "ValidationError", "name");
    let roots = app.get("/categories").await;
    assert_eq!(roots.assert_ok()["categories"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_root_category_lists_its_children_and_lists_page() {
    let app = spawn_app();
    let root = category(&app, "firmware", None).await;
    for name in ["a", "b", "c"] {
        category(&app, name, Some(&root)).await;
    }
    let detail = app.get(&format!("/categories/{root}")).await;
    let children = detail.assert_ok()["category"]["children"]
        .as_array()
        .unwrap();
    assert_eq!(children.len(), 3);

    let first = app
        .get(&format!("/categories?parentId={root}&maxResults=2"))
        .await;
    let first = first.assert_ok();
    assert_eq!(first["categories"].as_array().unwrap().len(), 2);
    let token = first["nextToken"].as_str().unwrap();
    let second = app
        .get(&format!(
            "/categories?parentId={root}&maxResults=2&nextToken={token}"
        ))
        .await;
    assert_eq!(second.assert_ok()["categories"][0]["name"], "c");
    assert!(second.body.get("nextToken").is_none());

    let child = children[0]["categoryId"].as_str().unwrap();
    let child = app.get(&format!("/categories/{child}")).await;
    assert!(child.assert_ok()["category"].get("children").is_none());
}

#[tokio::test]
async fn updating_a_category_applies_the_description_and_moves_updated_at() {
    let app = spawn_app();
    let id = category(&app, "lamps", None).await;
    let before = app.get(&format!("/categories/{id}")).await.body["category"].clone();
    app.put(
        &format!("/categories/{id}"),
        Some(json!({ "description": "every lamp" })),
    )
    .await
    .assert_ok();
    let after = app.get(&format!("/categories/{id}")).await.body["category"].clone();
    assert_eq!(after["description"], "every lamp");
    assert_ne!(after["updatedAt"], before["updatedAt"]);
    app.put(
        "/categories/0123456789abcdef0123456789abcdef",
        Some(json!({ "description": "x" })),
    )
    .await
    .assert_error(404, "ResourceNotFound", "does not exist");
}

#[tokio::test]
async fn a_category_with_children_or_files_cannot_be_deleted() {
    let app = spawn_app();
    let root = category(&app, "firmware", None).await;
    let child = category(&app, "lamps", Some(&root)).await;
    app.delete(&format!("/categories/{root}"), None)
        .await
        .assert_error(409, "Conflict", "child categories");
    register(&app, new_file(&child, "1.0", FIRMWARE)).await;
    app.delete(&format!("/categories/{child}"), None)
        .await
        .assert_error(409, "Conflict", "files");
    app.delete("/categories/0123456789abcdef0123456789abcdef", None)
        .await
        .assert_error(404, "ResourceNotFound", "does not exist");
    app.get("/categories/0123456789abcdef0123456789abcdef/files")
        .await
        .assert_error(404, "ResourceNotFound", "does not exist");
}

#[tokio::test]
async fn registering_files_answers_their_ids_and_states() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let mut external = new_file(&lamps, "0.9", b"old");
    external["location"] = json!("https://downloads.example.com/lamp-0.9.bin");
    external["checksumType"] = json!("md5");
    external["checksum"] = json!(models::digest::md5_hex(b"old"));
    let reply = app
        .post(
            "/files",
            json!({ "files": [new_file(&lamps, "1.0", FIRMWARE), external] }),
        )
        .await;
    let files = reply.assert_ok()["files"].as_array().unwrap().clone();
    assert_eq!(files[0]["state"], "PENDING_UPLOAD");
    assert_eq!(files[0]["verified"], false);
    assert_eq!(files[0]["checksumType"], "sha256");
    assert!(files[0]["documentUrl"]
        .as_str()
        .unwrap()
        .starts_with("${aws:iot:s3-presigned-url-v2:"));
    assert_eq!(files[1]["state"], "DRAFT");
    assert_eq!(files[1]["verified"], false);
    assert_eq!(
        files[1]["documentUrl"],
        "https://downloads.example.com/lamp-0.9.bin"
    );

    let id = files[0]["fileId"].as_str().unwrap();
    assert_eq!(file(&app, id).await["version"], "1.0");
    let checksum = sha256_hex(FIRMWARE);
    let found = app.get(&format!("/files/{checksum}/versions/1.0")).await;
    assert_eq!(found.assert_ok()["files"][0]["fileId"], id);
    app.get(&format!("/files/{checksum}/versions/9.9"))
        .await
        .assert_error(404, "ResourceNotFound", "version 9.9");
    let listed = app
        .get(&format!("/categories/{lamps}/files?locale=en-US"))
        .await;
    assert_eq!(listed.assert_ok()["files"].as_array().unwrap().len(), 2);
    let drafts = app.get("/files?state=DRAFT").await;
    assert_eq!(drafts.assert_ok()["files"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bad_batch_stores_nothing() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    register(&app, new_file(&lamps, "1.0", FIRMWARE)).await;

    // The second file exists already: a 409, and the first is not stored either.
    app.post(
        "/files",
        json!({ "files": [new_file(&lamps, "2.0", b"two"), new_file(&lamps, "1.0", FIRMWARE)] }),
    )
    .await
    .assert_error(409, "ResourceAlreadyExists", "files[1]");
    // An unknown category: a 404 naming the item.
    app.post(
        "/files",
        json!({ "files": [new_file(&lamps, "2.0", b"two"), new_file("0123456789abcdef0123456789abcdef", "3.0", b"three")] }),
    )
    .await
    .assert_error(404, "ResourceNotFound", "files[1].categoryId");
    // The same checksum and version twice in one request.
    app.post(
        "/files",
        json!({ "files": [new_file(&lamps, "2.0", b"two"), new_file(&lamps, "2.0", b"two")] }),
    )
    .await
    .assert_error(422, "ValidationError", "files[1]");
    let all = app.get("/files").await;
    assert_eq!(all.assert_ok()["files"].as_array().unwrap().len(), 1);
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: TransactWriteItems checks its conditions without isolation from concurrent requests"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_checksum_and_version_make_one_file() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let body = json!({ "files": [new_file(&lamps, "1.0", FIRMWARE)] });
    let replies =
        futures_util::future::join_all((0..8).map(|_| app.post("/files", body.clone()))).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(created, 1, "{replies:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        reply.assert_error(409, "ResourceAlreadyExists", "checksum");
    }
    let all = app.get("/files").await;
    assert_eq!(all.assert_ok()["files"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn checksums_are_checked_by_type() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let mut short = new_file(&lamps, "1.0", FIRMWARE);
    short["checksum"] = json!("abcd1234");
    app.post("/files", json!({ "files": [short] }))
        .await
        .assert_error(
            422,
            "ValidationError",
            "files[0].checksum: a sha256 checksum has 64",
        );
    let mut md5 = new_file(&lamps, "1.0", FIRMWARE);
    md5["checksumType"] = json!("md5");
    md5["checksum"] = json!(models::digest::md5_hex(FIRMWARE));
    app.post("/files", json!({ "files": [md5] }))
        .await
        .assert_error(422, "ValidationError", "files[0].checksumType");
    let mut unknown = new_file(&lamps, "1.0", FIRMWARE);
    unknown["checksumType"] = json!("sha512");
    app.post("/files", json!({ "files": [unknown] }))
        .await
        .assert_error(422, "ValidationError", "files[0].checksumType");
    app.post("/files", json!({ "files": [] }))
        .await
        .assert_error(422, "ValidationError", "1 to 25");
}

#[tokio::test]
async fn updates_apply_whole_batches_and_move_updated_at() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let one = register(&app, new_file(&lamps, "1.0", FIRMWARE)).await;
    let id = one["fileId"].as_str().unwrap();
    app.put(
        "/files",
        Some(json!({ "files": [{ "fileId": id, "summary": "2.1 for lamps", "description": "" }] })),
    )
    .await
    .assert_ok();
    let after = file(&app, id).await;
    assert_eq!(after["summary"], "2.1 for lamps");
    assert_eq!(after["description"], "");
    assert_ne!(after["updatedAt"], one["updatedAt"]);

    app.put(
        "/files",
        Some(json!({ "files": [
            { "fileId": id, "summary": "never" },
            { "fileId": "0a8e4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b", "summary": "never" }
        ] })),
    )
    .await
    .assert_error(404, "ResourceNotFound", "files[1].fileId");
    assert_eq!(file(&app, id).await["summary"], "2.1 for lamps");
    app.put("/files", Some(json!({ "files": [{ "fileId": id }] })))
        .await
        .assert_error(422, "ValidationError", "summary, description or both");
}

#[tokio::test]
async fn uploaded_bytes_are_verified_then_downloadable() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let id = uploaded(&app, &lamps, "1.0", FIRMWARE).await;
    let after = file(&app, &id).await;
    assert_eq!(after["state"], "DRAFT");
    assert_eq!(after["verified"], true);
    assert_eq!(after["size"], FIRMWARE.len());

    let reply = app
        .get(&format!("/files/by-id/{id}/download?expiresInSec=60"))
        .await;
    let download = reply.assert_ok()["download"].clone();
    assert!(download["expiresAt"].is_string());
    let url = download["url"].as_str().unwrap();
    let got = app
        .transfer(Method::GET, url, &BTreeMap::new(), Vec::new())
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, FIRMWARE);
    let etag = got.headers["etag"].to_str().unwrap().to_owned();

    let range = BTreeMap::from([("range".to_owned(), "bytes=0-3".to_owned())]);
    let part = app.transfer(Method::GET, url, &range, Vec::new()).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, &FIRMWARE[..4]);
    let cached = BTreeMap::from([("if-none-match".to_owned(), etag)]);
    let not_modified = app.transfer(Method::GET, url, &cached, Vec::new()).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);

    app.get(&format!("/files/by-id/{id}/download?expiresInSec=30"))
        .await
        .assert_error(422, "ValidationError", "expiresInSec");
    app.post(&format!("/files/by-id/{id}/upload"), json!({ "size": 3 }))
        .await
        .assert_error(409, "InvalidStateTransition", "DRAFT");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: S3 stores a PUT whatever its x-amz-checksum-sha256 says"
)]
#[tokio::test]
async fn wrong_bytes_are_refused_and_the_file_stays_pending() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let registered = register(&app, new_file(&lamps, "1.0", FIRMWARE)).await;
    let id = registered["fileId"].as_str().unwrap();
    let status = upload(&app, id, b"these are not the declared bytes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.call(
        Method::POST,
        &format!("/files/by-id/{id}/upload/complete"),
        None,
    )
    .await
    .assert_error(409, "Conflict", "no verified bytes");
    assert_eq!(file(&app, id).await["state"], "PENDING_UPLOAD");
    app.put(&format!("/files/by-id/{id}/publish"), None)
        .await
        .assert_error(409, "InvalidStateTransition", "not been uploaded");
    app.get(&format!("/files/by-id/{id}/download"))
        .await
        .assert_error(409, "InvalidStateTransition", "PENDING_UPLOAD");

    // Without the checksum header the storage refuses the bytes too.
    let reply = app
        .post(
            &format!("/files/by-id/{id}/upload"),
            json!({ "size": FIRMWARE.len() }),
        )
        .await;
    let url = reply.assert_ok()["upload"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let bare = app
        .transfer(Method::PUT, &url, &BTreeMap::new(), FIRMWARE.to_vec())
        .await;
    assert!(bare.status.is_client_error(), "{:?}", bare.status);
    assert_eq!(file(&app, id).await["state"], "PENDING_UPLOAD");
}

#[tokio::test]
async fn a_file_larger_than_one_put_is_refused_before_any_byte_moves() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let registered = register(&app, new_file(&lamps, "1.0", FIRMWARE)).await;
    let id = registered["fileId"].as_str().unwrap();
    app.post(
        &format!("/files/by-id/{id}/upload"),
        json!({ "size": 6u64 * 1024 * 1024 * 1024 }),
    )
    .await
    .assert_error(409, "LimitExceeded", "size");
}

const MIB: usize = 1024 * 1024;

/// Bytes of a firmware image larger than one part: 11 MiB and a few, in a pattern.
fn large_firmware() -> Vec<u8> {
    (0..11 * MIB + 7).map(|i| (i % 251) as u8).collect()
}

/// Starts (or resumes) a multipart upload of `size` bytes in parts of 5 MiB.
async fn start_multipart(app: &TestApp, id: &str, size: usize) -> Value {
    let reply = app
        .post(
            &format!("/files/by-id/{id}/multipart-upload"),
            json!({ "size": size, "partSize": 5 * MIB }),
        )
        .await;
    reply.assert_ok()["upload"].clone()
}

/// Sends the bytes of one part to its URL; returns the PUT's status.
async fn put_part(app: &TestApp, upload: &Value, number: usize, bytes: &[u8]) -> StatusCode {
    let part = &upload["parts"][number - 1];
    assert_eq!(part["partNumber"], number);
    let headers: BTreeMap<String, String> =
        serde_json::from_value(part["headers"].clone()).unwrap();
    let start = (number - 1) * 5 * MIB;
    let end = (start + 5 * MIB).min(bytes.len());
    app.transfer(
        Method::PUT,
        part["url"].as_str().unwrap(),
        &headers,
        bytes[start..end].to_vec(),
    )
    .await
    .status
}

async fn complete(app: &TestApp, id: &str) -> crate::helpers::Reply {
    app.call(
        Method::POST,
        &format!("/files/by-id/{id}/upload/complete"),
        None,
    )
    .await
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: ListParts answers a ListPartsResponse root, not S3's ListPartsResult, which the SDK refuses"
)]
#[tokio::test]
async fn a_multipart_upload_is_put_together_verified_and_resumable() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let bytes = large_firmware();
    let registered = register(&app, new_file(&lamps, "3.0", &bytes)).await;
    let id = registered["fileId"].as_str().unwrap();

    let upload = start_multipart(&app, id, bytes.len()).await;
    assert_eq!(upload["partCount"], 3);
    assert_eq!(upload["partSize"], 5 * MIB);
    let sizes: Vec<&Value> = upload["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["size"])
        .collect();
    assert_eq!(sizes, [&json!(5 * MIB), &json!(5 * MIB), &json!(MIB + 7)]);
    assert_eq!(put_part(&app, &upload, 3, &bytes).await, StatusCode::OK);
    assert_eq!(put_part(&app, &upload, 2, &bytes).await, StatusCode::OK);
    complete(&app, id)
        .await
        .assert_error(409, "Conflict", "part 1 of 3 was not uploaded");
    assert_eq!(file(&app, id).await["state"], "PENDING_UPLOAD");

    // The same plan again resumes the upload with fresh URLs: the parts sent are kept.
    let resumed = start_multipart(&app, id, bytes.len()).await;
    assert_eq!(resumed["uploadId"], upload["uploadId"]);
    assert_eq!(put_part(&app, &resumed, 1, &bytes).await, StatusCode::OK);
    let completed = complete(&app, id).await;
    let state = completed.assert_ok()["file"]["state"].clone();
    assert!(state == "DRAFT" || state == "VERIFYING", "{state}");
    app.device.upload_completed(id).await;

    let after = file(&app, id).await;
    assert_eq!(after["state"], "DRAFT", "{after}");
    assert_eq!(after["verified"], true);
    assert_eq!(after["size"], bytes.len());
    let reply = app.get(&format!("/files/by-id/{id}/download")).await;
    let url = reply.assert_ok()["download"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = app
        .transfer(Method::GET, &url, &BTreeMap::new(), Vec::new())
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(sha256_hex(&got.body), sha256_hex(&bytes));
    app.post(
        &format!("/files/by-id/{id}/multipart-upload"),
        json!({ "size": bytes.len() }),
    )
    .await
    .assert_error(409, "InvalidStateTransition", "DRAFT");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: ListParts answers a ListPartsResponse root, not S3's ListPartsResult, which the SDK refuses"
)]
#[tokio::test]
async fn another_plan_starts_over_and_parts_must_have_their_sizes() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let bytes = large_firmware();
    let registered = register(&app, new_file(&lamps, "3.0", &bytes)).await;
    let id = registered["fileId"].as_str().unwrap();
    let first = start_multipart(&app, id, bytes.len()).await;
    assert_eq!(put_part(&app, &first, 1, &bytes).await, StatusCode::OK);
    assert_eq!(put_part(&app, &first, 2, &bytes).await, StatusCode::OK);

    // Another size is another plan: a new upload, without the parts of the first.
    let longer = start_multipart(&app, id, bytes.len() + 1).await;
    assert_ne!(longer["uploadId"], first["uploadId"]);
    // The first upload is over: its URLs take no more parts.
    assert_eq!(
        put_part(&app, &first, 3, &bytes).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(put_part(&app, &longer, 3, &bytes).await, StatusCode::OK);
    complete(&app, id)
        .await
        .assert_error(409, "Conflict", "part 1 of 3 was not uploaded");
    assert_eq!(put_part(&app, &longer, 1, &bytes).await, StatusCode::OK);
    assert_eq!(put_part(&app, &longer, 2, &bytes).await, StatusCode::OK);
    // Part 3 holds one byte less than this plan says.
    complete(&app, id)
        .await
        .assert_error(409, "Conflict", "part 3 holds");
    assert_eq!(file(&app, id).await["state"], "PENDING_UPLOAD");
}

#[cfg_attr(
    contract_on_moto,
    ignore = "moto: ListParts answers a ListPartsResponse root, not S3's ListPartsResult, which the SDK refuses"
)]
#[tokio::test]
async fn wrong_bytes_in_parts_leave_the_file_pending_with_the_reason() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let registered = register(&app, new_file(&lamps, "1.0", FIRMWARE)).await;
    let id = registered["fileId"].as_str().unwrap();
    let upload = start_multipart(&app, id, FIRMWARE.len()).await;
    assert_eq!(upload["partCount"], 1);
    let mut wrong = FIRMWARE.to_vec();
    wrong[0] ^= 1;
    assert_eq!(put_part(&app, &upload, 1, &wrong).await, StatusCode::OK);
    // Checked within the request (409) or, on AWS, by the verifier afterwards.
    let completed = complete(&app, id).await;
    if completed.status == StatusCode::OK {
        assert_eq!(completed.body["file"]["state"], "VERIFYING");
        app.post(
            &format!("/files/by-id/{id}/multipart-upload"),
            json!({ "size": 1 }),
        )
        .await
        .assert_error(409, "InvalidStateTransition", "VERIFYING");
        app.put(&format!("/files/by-id/{id}/publish"), None)
            .await
            .assert_error(409, "InvalidStateTransition", "being verified");
        app.device.upload_completed(id).await;
    } else {
        completed.assert_error(409, "Conflict", "sha256");
    }
    let after = file(&app, id).await;
    assert_eq!(after["state"], "PENDING_UPLOAD", "{after}");
    let why = after["uploadError"].as_str().unwrap();
    assert!(why.contains(&sha256_hex(&wrong)), "{why}");
    app.get(&format!("/files/by-id/{id}/download"))
        .await
        .assert_error(409, "InvalidStateTransition", "PENDING_UPLOAD");

    // A new upload forgets the refusal, and the right bytes are taken.
    let again = start_multipart(&app, id, FIRMWARE.len()).await;
    assert!(file(&app, id).await.get("uploadError").is_none());
    assert_eq!(put_part(&app, &again, 1, FIRMWARE).await, StatusCode::OK);
    complete(&app, id).await.assert_ok();
    app.device.upload_completed(id).await;
    assert_eq!(file(&app, id).await["state"], "DRAFT");
}

#[tokio::test]
async fn multipart_plans_are_checked_before_anything_is_stored() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let registered = register(&app, new_file(&lamps, "1.0", FIRMWARE)).await;
    let id = registered["fileId"].as_str().unwrap();
    let path = format!("/files/by-id/{id}/multipart-upload");
    for (body, mentions) in [
        (json!({ "size": 10 * MIB, "partSize": MIB }), "partSize"),
        (
            json!({ "size": 10_000 * MIB, "partSize": 5 * MIB }),
            "partSize",
        ),
        (json!({ "size": 0 }), "size"),
        (json!({ "size": 10, "parts": 2 }), "parts"),
    ] {
        app.post(&path, body.clone())
            .await
            .assert_error(422, "ValidationError", mentions);
    }
    app.post(
        "/files/by-id/0a8e4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b/multipart-upload",
        json!({ "size": 10 }),
    )
    .await
    .assert_error(
        404,
        "ResourceNotFound",
        "0a8e4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b",
    );
    let unchanged = file(&app, id).await;
    assert_eq!(unchanged["updatedAt"], registered["updatedAt"]);
}

#[tokio::test]
async fn files_move_from_draft_to_published_to_deprecated_only() {
    let app = spawn_app();
    let lamps = category(&app, "lamps", None).await;
    let id = uploaded(&app, &lamps, "1.0", FIRMWARE).await;
    app.put(&format!("/files/by-id/{id}/deprecate"), None)
        .await
        .assert_error(409, "InvalidStateTransition", "only a PUBLISHED file");
    let reply = app.put(&format!("/files/by-id/{id}/publish"), None).await;
    assert_eq!(reply.assert_ok()["file"]["state"], "PUBLISHED");
    app.put(&format!("/files/by-id/{id}/publish"), None)
        .await
        .assert_error(409, "InvalidStateTransition", "PUBLISHED");
    let reply = app.put(&format!("/files/by-id/{id}/deprecate"), None).await;
    assert_eq!(reply.assert_ok()["file"]["state"], "DEPRECATED");
}

#[tokio::test]
async fn jobs_deliver_only_published_files_which_cannot_be_deleted_while_they_run() {
    let app = spawn_app();
    app.create_thing("lamp-1").await;
    let lamps = category(&app, "lamps", None).await;
    let draft = uploaded(&app, &lamps, "0.1", b"draft").await;
    let job = |id: &str, file: &str| {
        json!({
            "jobId": id,
            "targets": ["lamp-1"],
            "document": "{\"operation\":\"update\"}",
            "files": [file],
        })
    };
    app.post("/jobs", job("draft-job", &draft))
        .await
        .assert_error(409, "InvalidStateTransition", "PUBLISHED or DEPRECATED");

    let id = published(&app, &lamps, "1.0", FIRMWARE).await;
    app.post("/jobs", job("update-1", &id)).await.assert_ok();
    let document = app.get("/jobs/update-1/document").await;
    let document: Value =
        serde_json::from_str(document.assert_ok()["document"].as_str().unwrap()).unwrap();
    assert_eq!(document["operation"], "update");
    assert_eq!(document["files"][0]["fileId"], id.as_str());
    assert_eq!(document["files"][0]["checksum"], sha256_hex(FIRMWARE));
    assert_eq!(
        document["files"][0]["url"],
        file(&app, &id).await["documentUrl"]
    );
    let job_body = app.job("update-1").await;
    assert!(job_body["presignedUrlConfig"]["expiresInSec"].is_i64());

    app.delete("/files", Some(json!({ "files": [{ "fileId": id }] })))
        .await
        .assert_error(409, "Conflict", "update-1");
    assert_eq!(file(&app, &id).await["state"], "PUBLISHED");
    app.put("/jobs/update-1/cancel", Some(json!({})))
        .await
        .assert_ok();
    app.delete("/files", Some(json!({ "files": [{ "fileId": id }] })))
        .await
        .assert_ok();
    app.get(&format!("/files/by-id/{id}")).await.assert_error(
        404,
        "ResourceNotFound",
        "does not exist",
    );
    app.delete("/files", Some(json!({ "files": [{ "fileId": id }] })))
        .await
        .assert_error(404, "ResourceNotFound", "files[0].fileId");
}
