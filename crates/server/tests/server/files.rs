//! Firmware files' bytes through the local server's signed URLs, as S3's presigned URLs behave:
//! they expire, they allow only the request they were made for, the size limit holds, and bytes
//! and secret survive a restart.

use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::{config, http, start};

const BYTES: &str = "lamp firmware 2.1";

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    models::digest::hex(&sha2::Sha256::digest(text.as_bytes()))
}

fn sha256_header(text: &str) -> String {
    models::digest::base64(&models::digest::from_hex(&sha256_hex(text)).unwrap())
}

/// The path and query of a URL the server made (its host is the configured one).
fn local_path(url: &str) -> String {
    let at = url.find("/_local/objects/").unwrap();
    url[at..].to_owned()
}

async fn post(addr: std::net::SocketAddr, path: &str, body: Value) -> Value {
    serde_json::from_str(&super::post_ok(addr, path, &body).await.body).unwrap()
}

/// A registered file for `BYTES` and the upload URL the API gives for it.
async fn pending_upload(addr: std::net::SocketAddr) -> (String, String) {
    let category = post(addr, "/categories", json!({"name": "lamps"})).await;
    let category = category["category"]["categoryId"]
        .as_str()
        .unwrap()
        .to_owned();
    let files = post(
        addr,
        "/files",
        json!({"files": [{"categoryId": category, "version": "2.1", "locale": "en", "checksum": sha256_hex(BYTES)}]}),
    )
    .await;
    let id = files["files"][0]["fileId"].as_str().unwrap().to_owned();
    let upload = post(
        addr,
        &format!("/files/by-id/{id}/upload"),
        json!({"size": BYTES.len()}),
    )
    .await;
    (id, local_path(upload["upload"]["url"].as_str().unwrap()))
}

#[tokio::test]
async fn upload_urls_expire_and_allow_only_the_bytes_they_were_made_for() {
    let config = config(&["--memory", "--manual-clock", "--max-file-size", "20"]);
    let (addr, _stop, _task) = start(&config).await;
    let (id, put) = pending_upload(addr).await;
    let checksum = sha256_header(BYTES);

    let other = sha256_header("other bytes");
    let refused = http(
        addr,
        Method::PUT,
        &put,
        &[("x-amz-checksum-sha256", &other)],
        "other bytes",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let as_get = http(addr, Method::GET, &put, &[], "").await;
    assert_eq!(as_get.status, StatusCode::FORBIDDEN, "{}", as_get.body);
    let too_big = "x".repeat(21);
    let refused = http(
        addr,
        Method::PUT,
        &put,
        &[("x-amz-checksum-sha256", &checksum)],
        &too_big,
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        refused.body
    );

    post(addr, "/_local/clock/advance", json!({"seconds": 3601})).await;
    let expired = http(
        addr,
        Method::PUT,
        &put,
        &[("x-amz-checksum-sha256", &checksum)],
        BYTES,
    )
    .await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN, "{}", expired.body);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let file = http(addr, Method::GET, &format!("/files/by-id/{id}"), &[], "").await;
    assert!(file.body.contains("PENDING_UPLOAD"), "{}", file.body);

    let refused = http(
        addr,
        Method::POST,
        &format!("/files/by-id/{id}/upload"),
        &[("content-type", "application/json")],
        r#"{"size": 21}"#,
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("--max-file-size"), "{}", refused.body);
}

#[tokio::test]
async fn bytes_and_their_urls_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("iot-api-files-test-{}", std::process::id()));
    let db = dir.join("state.db");
    let config = config(&["--db", db.to_str().unwrap()]);
    let (addr, stop, task) = start(&config).await;
    let (id, put) = pending_upload(addr).await;
    let stored = http(
        addr,
        Method::PUT,
        &put,
        &[("x-amz-checksum-sha256", &sha256_header(BYTES))],
        BYTES,
    )
    .await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
    assert_eq!(
        stored.headers["etag"].to_str().unwrap(),
        format!("\"{}\"", sha256_hex(BYTES))
    );
    let completed = http(
        addr,
        Method::POST,
        &format!("/files/by-id/{id}/upload/complete"),
        &[],
        "",
    )
    .await;
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.body);
    let download = http(
        addr,
        Method::GET,
        &format!("/files/by-id/{id}/download"),
        &[],
        "",
    )
    .await;
    let download: Value = serde_json::from_str(&download.body).unwrap();
    let get = local_path(download["download"]["url"].as_str().unwrap());
    stop.send(()).unwrap();
    task.await.unwrap();

    let (addr, stop, task) = start(&config).await;
    let got = http(addr, Method::GET, &get, &[], "").await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.body, BYTES);
    let head = http(addr, Method::HEAD, &get, &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.headers["content-length"],
        BYTES.len().to_string().as_str()
    );
    let range = http(addr, Method::GET, &get, &[("range", "bytes=100-")], "").await;
    assert_eq!(range.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let secret = db.with_extension("secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the secret is readable by its owner only");
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A multipart upload outlives a restart: the parts sent before it are kept (what an earlier run
/// left of anything else is removed), and the upload resumes where it was.
#[tokio::test]
async fn a_multipart_upload_resumes_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("iot-api-parts-restart-{}", std::process::id()));
    let db = dir.join("state.db");
    let config = config(&["--db", db.to_str().unwrap()]);
    let (addr, stop, task) = start(&config).await;
    let (id, _) = pending_upload(addr).await;
    let plan = json!({"size": BYTES.len()});
    let path = format!("/files/by-id/{id}/multipart-upload");
    let upload = post(addr, &path, plan.clone()).await;
    let put = local_path(upload["upload"]["parts"][0]["url"].as_str().unwrap());
    let sent = http(addr, Method::PUT, &put, &[], BYTES).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let stray = db
        .with_extension("files")
        .join("incoming")
        .join("left-by-a-crash");
    std::fs::write(&stray, "half a body").unwrap();
    stop.send(()).unwrap();
    task.await.unwrap();

    let (addr, stop, task) = start(&config).await;
    assert!(!stray.exists(), "what a crash left is removed");
    let resumed = post(addr, &path, plan).await;
    assert_eq!(resumed["upload"]["uploadId"], upload["upload"]["uploadId"]);
    let complete = format!("/files/by-id/{id}/upload/complete");
    let completed = http(addr, Method::POST, &complete, &[], "").await;
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.body);
    let completed: Value = serde_json::from_str(&completed.body).unwrap();
    assert_eq!(completed["file"]["state"], "DRAFT", "{completed}");
    assert_eq!(completed["file"]["size"], BYTES.len());
    // The upload is over: its part URLs take nothing more.
    let late = http(addr, Method::PUT, &put, &[], BYTES).await;
    assert_eq!(late.status, StatusCode::NOT_FOUND, "{}", late.body);
    stop.send(()).unwrap();
    task.await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
