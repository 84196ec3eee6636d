//! The local server as a user meets it: flags, the real binary, persistence, CORS, the spec.

#![allow(clippy::unwrap_used)] // A failed unwrap in a test is a failed test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use server::Config;

#[path = "server/device.rs"]
mod device;
#[path = "server/files.rs"]
mod files;
#[path = "server/thing_types.rs"]
mod thing_types;

struct Reply {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

async fn http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// POSTs a JSON body and asserts a 200, naming the path and the reply otherwise.
async fn post_ok(addr: SocketAddr, path: &str, body: &serde_json::Value) -> Reply {
    let reply = http(
        addr,
        Method::POST,
        path,
        &[("content-type", "application/json")],
        &body.to_string(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply
}

/// Serves the app for `config` on a free loopback port; dropping the sender stops it.
async fn start(
    config: &Config,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let app = server::apps(config).unwrap().api;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve(listener, app, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop, task)
}

fn config(args: &[&str]) -> Config {
    Config::parse_from(std::iter::once("iot-api-local").chain(args.iter().copied()))
}

#[test]
fn defaults_bind_loopback_and_a_documented_database_path() {
    let config = config(&[]);
    assert!(config.host.is_loopback());
    assert_eq!(config.port, 8080);
    assert_eq!(config.db, std::path::PathBuf::from("data/local.db"));
    assert!(!config.memory);
}

#[test]
fn memory_and_db_cannot_both_be_given() {
    let result = Config::try_parse_from(["iot-api-local", "--memory", "--db", "x.db"]);
    assert!(result.is_err());
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("iot-api-test-{}", std::process::id()));
    let db = dir.join("nested").join("state.db");
    let config = config(&["--db", db.to_str().unwrap()]);
    let (addr, stop, task) = start(&config).await;
    let created = http(
        addr,
        Method::POST,
        "/things",
        &[("content-type", "application/json")],
        r#"{"thingName":"kept"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    stop.send(()).unwrap();
    task.await.unwrap();
    let (addr, stop, task) = start(&config).await;
    let thing = http(addr, Method::GET, "/things/kept", &[], "").await;
    assert_eq!(thing.status, StatusCode::OK, "{}", thing.body);
    assert!(thing.body.contains("\"thingName\":\"kept\""));
    stop.send(()).unwrap();
    task.await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn serves_its_openapi_document() {
    let (addr, stop, _task) = start(&config(&["--memory"])).await;
    let reply = http(addr, Method::GET, "/openapi.yaml", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/yaml");
    assert_eq!(reply.body, server::OPENAPI_YAML);
    stop.send(()).unwrap();
}

#[tokio::test]
async fn serves_interactive_documentation_that_needs_no_network() {
    let (addr, stop, _task) = start(&config(&["--memory"])).await;
    let page = http(addr, Method::GET, "/docs", &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.body.contains("url: \"/openapi.yaml\""),
        "{}",
        page.body
    );
    // Everything the page loads comes from this server.
    assert!(!page.body.contains("http://") && !page.body.contains("https://"));
    let mut loaded = 0;
    for part in page.body.split(['"', '\'']) {
        if part.starts_with("/docs/assets/") {
            let asset = http(addr, Method::GET, part, &[], "").await;
            assert_eq!(asset.status, StatusCode::OK, "{part}");
            assert!(asset.body.len() > 1000, "{part} is served whole");
            loaded += 1;
        }
    }
    assert_eq!(loaded, 2, "Swagger UI's script and style");
    let document = http(addr, Method::GET, "/openapi.yaml", &[], "").await;
    assert_eq!(document.status, StatusCode::OK);
    stop.send(()).unwrap();
}

#[tokio::test]
async fn serves_the_console_from_its_own_files_under_a_strict_policy() {
    let (addr, stop, _task) = start(&config(&["--memory"])).await;
    for entry in ["/", "/console/"] {
        let reply = http(addr, Method::GET, entry, &[], "").await;
        assert!(reply.status.is_redirection(), "{entry}: {}", reply.status);
        assert_eq!(reply.headers["location"], handlers::console::PATH);
    }
    let page = http(addr, Method::GET, handlers::console::PATH, &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("connect-src 'self';"), "{policy}");
    // Everything the page loads comes from this server.
    assert!(!page.body.contains("http://") && !page.body.contains("https://"));
    for (asset, kind) in [
        ("console/console.js", "text/javascript"),
        ("console/console.css", "text/css"),
    ] {
        assert!(
            page.body.contains(&format!("\"{asset}\"")),
            "the page loads {asset}"
        );
        let reply = http(addr, Method::GET, &format!("/{asset}"), &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        // The SVG namespace is a name, not an address the page loads.
        let body = reply.body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{asset}"
        );
    }
    let config = http(addr, Method::GET, "/console/config.json", &[], "").await;
    assert_eq!(config.status, StatusCode::OK);
    let config: serde_json::Value = serde_json::from_str(&config.body).unwrap();
    assert_eq!(config, serde_json::json!({"signIn": "NONE", "docs": true}));
    stop.send(()).unwrap();
}

#[tokio::test]
async fn answers_cors_preflight_for_allowed_origins_only() {
    let (addr, stop, _task) = start(&config(&[
        "--memory",
        "--cors-origin",
        "http://localhost:5173",
    ]))
    .await;
    async fn preflight(addr: SocketAddr, origin: &str) -> Reply {
        let headers = [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ];
        http(addr, Method::OPTIONS, "/jobs", &headers, "").await
    }
    let allowed = preflight(addr, "http://localhost:5173").await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(allowed.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let refused = preflight(addr, "http://evil.example").await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    let simple = http(
        addr,
        Method::GET,
        "/jobs",
        &[("origin", "http://localhost:5173")],
        "",
    )
    .await;
    assert_eq!(
        simple.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    stop.send(()).unwrap();
}

#[tokio::test]
async fn without_cors_origins_no_cors_headers_are_sent() {
    let (addr, stop, _task) = start(&config(&["--memory"])).await;
    let reply = http(
        addr,
        Method::GET,
        "/jobs",
        &[("origin", "http://localhost:5173")],
        "",
    )
    .await;
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    stop.send(()).unwrap();
}

#[tokio::test]
async fn the_binary_prints_its_url_serves_and_stops_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iot-api-local"))
        .args(["--port", "0", "--device-port", "0", "--memory"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut address = |prefix: &str| {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"));
        url.parse::<SocketAddr>().unwrap()
    };
    let addr = address("Listening on http://");
    let device = address("Device jobs endpoint on http://");
    assert!(addr.ip().is_loopback() && device.ip().is_loopback());
    let reply = http(addr, Method::GET, "/jobs", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, r#"{"jobs":[]}"#);
    let reply = http(device, Method::GET, "/things/lamp-1/jobs", &[], "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.headers["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    drop(stdout);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit: {:?}", output.status);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("GET") && log.contains("/jobs"),
        "each request is logged: {log}"
    );
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn help_describes_every_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_iot-api-local"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--host",
        "--port",
        "--db",
        "--memory",
        "--cors-origin",
        "--region",
        "--account",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

/// The real binary on a database file and a manual clock; its API's address.
fn spawn_on(
    db: &std::path::Path,
) -> (
    std::process::Child,
    SocketAddr,
    BufReader<std::process::ChildStdout>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iot-api-local"))
        .args([
            "--port",
            "0",
            "--device-port",
            "0",
            "--manual-clock",
            "--db",
        ])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("Listening on http://")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .parse()
        .unwrap();
    (child, addr, stdout)
}

async fn json(addr: SocketAddr, method: Method, path: &str, body: &str) -> serde_json::Value {
    let headers = [("content-type", "application/json")];
    let reply = http(addr, method, path, &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or(serde_json::Value::Null)
}

fn instant(value: &serde_json::Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[tokio::test]
async fn a_kill_in_the_middle_of_a_timed_rollout_loses_no_transition_and_doubles_none() {
    let dir = std::env::temp_dir().join(format!("iot-api-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.db");
    let (mut first, addr, _out) = spawn_on(&db);
    json(
        addr,
        Method::POST,
        "/thing-groups",
        r#"{"thingGroupName":"fleet"}"#,
    )
    .await;
    for n in 1..=300 {
        json(
            addr,
            Method::POST,
            "/things",
            &format!(r#"{{"thingName":"d-{n}"}}"#),
        )
        .await;
        json(
            addr,
            Method::PUT,
            &format!("/thing-groups/fleet/things/d-{n}"),
            "",
        )
        .await;
    }
    json(
        addr,
        Method::POST,
        "/jobs",
        r#"{"jobId":"wave","targets":["arn:aws:iot:us-east-1:000000000000:thinggroup/fleet"],
            "document":"{}","jobExecutionsRolloutConfig":{"maximumPerMinute":50}}"#,
    )
    .await;
    json(
        addr,
        Method::POST,
        "/_local/clock/advance",
        r#"{"seconds":60}"#,
    )
    .await;

    // Ask for two more minutes and kill the server at once, before, during or after that.
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let body = r#"{"seconds":120}"#;
    let request = format!(
        "POST /_local/clock/advance HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, addr, _out) = spawn_on(&db);
    let job = json(addr, Method::GET, "/jobs/wave", "").await;
    let clock = json(addr, Method::GET, "/_local/clock", "").await;
    let minutes =
        (instant(&clock["now"]) - instant(&job["job"]["createdAt"])).whole_milliseconds() / 60_000;
    let queued = job["job"]["jobProcessDetails"]["numberOfQueuedThings"]
        .as_i64()
        .unwrap();
    assert!(
        minutes == 1 || minutes == 3,
        "the clock is where it was, or where it was asked to be: {minutes}"
    );
    assert_eq!(
        queued,
        50 * (minutes as i64 + 1),
        "one window per minute the clock says passed"
    );

    json(
        addr,
        Method::POST,
        "/_local/clock/advance",
        r#"{"seconds":600}"#,
    )
    .await;
    let mut things = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/jobs/wave/status?maxResults=250&nextToken={t}"),
            None => "/jobs/wave/status?maxResults=250".to_owned(),
        };
        let page = json(addr, Method::GET, &path, "").await;
        for e in page["executionSummaries"].as_array().unwrap() {
            assert_eq!(e["jobExecution"]["executionNumber"], 1, "{e}");
            things.push(e["thingArn"].as_str().unwrap().to_owned());
        }
        token = page["nextToken"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let count = things.len();
    things.sort();
    things.dedup();
    assert_eq!((count, things.len()), (300, 300), "every thing once");
    second.kill().unwrap();
    second.wait().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
