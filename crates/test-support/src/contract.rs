//! The contract suite's harness: an API over a fresh backend per test, a client that calls the
//! router without a socket, a check of every response against `openapi.yaml`, and the device a
//! test plays. Each test binary gives the backend (its own `helpers::spawn_app`).

#![allow(clippy::unwrap_used)] // A failed unwrap in a test harness is a failed test.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use models::ids::{JobId, ThingName};
use models::job::ExecutionStatus;
use models::Backend;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const SPEC_YAML: &str = include_str!("../../../openapi.yaml");

/// The spec as JSON, parsed once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| strict_yaml(SPEC_YAML).expect("openapi.yaml parses"))
}

/// YAML as JSON, refusing a duplicate key as YAML requires and client generators do. Read
/// straight into JSON, serde would keep the last of two keys silently.
pub fn strict_yaml(text: &str) -> Result<Value, String> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    serde_json::to_value(yaml).map_err(|e| e.to_string())
}

/// A device of the backend under test, for the tests alone: it reports a status for a thing's
/// execution of a job through the jobs data plane, as a device does. Production code never
/// reports for a device, so this is no method of `models::Backend`.
#[async_trait::async_trait]
pub trait Device: Send + Sync {
    async fn report(&self, job: JobId, thing: ThingName, status: ExecutionStatus);

    /// What AWS does on its own after a multipart upload of file `file_id` completes: S3
    /// notifies the verifier function, which hashes the object. A backend that verifies within
    /// the request (the emulator) has nothing to do.
    async fn upload_completed(&self, _file_id: &str) {}
}

pub struct TestApp {
    pub router: Router,
    pub device: Arc<dyn Device>,
    /// The local server's object routes, which answer the emulator's upload and download URLs;
    /// without it, those URLs are real HTTP (S3 on moto).
    objects: Option<Router>,
    /// Whatever keeps the backend's state for this test alone (a directory, a lock).
    _isolation: Box<dyn std::any::Any + Send + Sync>,
}

impl TestApp {
    /// An API over `backend`, with `device` to play devices and `isolation` kept until the test
    /// ends (whatever keeps the backend's state for this test alone).
    pub fn new(
        backend: Arc<dyn Backend>,
        device: Arc<dyn Device>,
        isolation: Box<dyn std::any::Any + Send + Sync>,
    ) -> TestApp {
        TestApp {
            router: handlers::router(backend),
            device,
            objects: None,
            _isolation: isolation,
        }
    }

    /// Answers URLs the backend hands out for files' bytes with `objects` instead of the network.
    pub fn with_objects(mut self, objects: Router) -> TestApp {
        self.objects = Some(objects);
        self
    }

    /// Sends a request to a presigned URL the API gave (an upload or a download), as a client
    /// does, with exactly the headers given.
    pub async fn transfer(
        &self,
        method: Method,
        url: &str,
        headers: &BTreeMap<String, String>,
        body: Vec<u8>,
    ) -> Transferred {
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (authority, path) = without_scheme
            .split_once('/')
            .map_or((without_scheme, "/".to_owned()), |(a, p)| {
                (a, format!("/{p}"))
            });
        let mut request = Request::builder()
            .method(method)
            .uri(&path)
            .header(header::HOST, authority);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap();
        let response = match &self.objects {
            Some(objects) => objects.clone().oneshot(request).await.unwrap(),
            None => {
                let stream = tokio::net::TcpStream::connect(authority).await.unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                sender.send_request(request).await.unwrap().map(Body::new)
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Transferred {
            status,
            headers,
            body: body.to_vec(),
        }
    }
}

/// The sha256 of `bytes` in lowercase hex, as the catalog keeps checksums.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    models::digest::hex(&sha2::Sha256::digest(bytes))
}

/// What a presigned URL answered.
#[derive(Debug)]
pub struct Transferred {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

/// A backend made for one test: what the API runs on, the device a test plays, whatever keeps its
/// state apart, and the routes that answer its presigned URLs when they are not real HTTP.
pub struct Fresh {
    pub backend: Arc<dyn Backend>,
    pub device: Arc<dyn Device>,
    pub isolation: Box<dyn std::any::Any + Send + Sync>,
    pub objects: Option<Router>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The error code of a failure body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "unexpected reply: {}",
            self.body
        );
        &self.body
    }

    /// Asserts the status and code, and that the message names `mentions`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, mentions: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {}",
            self.body
        );
        assert_eq!(self.code(), code, "unexpected reply: {}", self.body);
        assert!(
            self.error().contains(mentions),
            "{:?} does not mention {mentions:?}",
            self.error()
        );
    }
}

impl TestApp {
    /// Sends a request with an optional JSON body and checks the reply against the spec.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method.clone()).uri(uri);
        let body = match body {
            Some(value) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&value).unwrap())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    /// Sends a raw request and checks the reply against the spec.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!("{method} {path} answered {status} with a non-JSON body ({e}): {bytes:?}")
        });
        check_against_spec(&method, &path, status, &body);
        Reply { status, body }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }
    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
    }
    pub async fn put(&self, uri: &str, body: Option<Value>) -> Reply {
        self.call(Method::PUT, uri, body).await
    }
    pub async fn delete(&self, uri: &str, body: Option<Value>) -> Reply {
        self.call(Method::DELETE, uri, body).await
    }

    pub async fn create_thing(&self, name: &str) {
        self.post("/things", json!({ "thingName": name }))
            .await
            .assert_ok();
    }

    pub async fn create_things(&self, names: &[&str]) {
        for name in names {
            self.create_thing(name).await;
        }
    }

    pub async fn create_group(&self, name: &str, parent: Option<&str>) {
        let mut body = json!({ "thingGroupName": name });
        if let Some(parent) = parent {
            body["parentGroupName"] = json!(parent);
        }
        self.post("/thing-groups", body).await.assert_ok();
    }

    pub async fn add_to_group(&self, group: &str, thing: &str) {
        self.put(&format!("/thing-groups/{group}/things/{thing}"), None)
            .await
            .assert_ok();
    }

    pub fn group_arn(&self, group: &str) -> String {
        format!("arn:aws:iot:us-east-1:000000000000:thinggroup/{group}")
    }

    /// Creates a job with the given targets and selection; returns its id.
    pub async fn create_job(&self, id: &str, targets: &[String], selection: &str) -> String {
        let reply = self
            .post(
                "/jobs",
                json!({ "jobId": id, "targets": targets, "targetSelection": selection, "document": "{\"op\":\"x\"}" }),
            )
            .await;
        reply.assert_ok()["jobId"].as_str().unwrap().to_owned()
    }

    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/jobs/{id}")).await.assert_ok()["job"].clone()
    }

    pub async fn execution(&self, job: &str, thing: &str) -> Value {
        self.get(&format!("/jobs/{job}/things/{thing}"))
            .await
            .assert_ok()["execution"]
            .clone()
    }

    pub async fn execution_status(&self, job: &str, thing: &str) -> String {
        self.execution(job, thing).await["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Plays the device: reports a status for the thing's execution of the job.
    pub async fn device_reports(&self, job: &str, thing: &str, status: ExecutionStatus) {
        self.device
            .report(
                JobId::parse(job).unwrap(),
                ThingName::parse(thing).unwrap(),
                status,
            )
            .await;
    }
}

/// The spec's operation for a concrete request, as (path template, operation object).
/// The operation serving a path: of the templates that fit it, the one with the most literal
/// segments (`/things/search` rather than `/things/{thingName}`), as the router chooses.
fn find_operation<'a>(method: &Method, path: &str) -> Option<(&'a str, &'a Value)> {
    let paths = spec()["paths"].as_object()?;
    let method = method.as_str().to_ascii_lowercase();
    paths
        .iter()
        .filter_map(|(template, item)| {
            let (t, p): (Vec<&str>, Vec<&str>) =
                (template.split('/').collect(), path.split('/').collect());
            let fits =
                t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p);
            let literal = t.iter().filter(|s| !s.starts_with('{')).count();
            fits.then(|| Some((literal, template.as_str(), item.get(&method)?)))
                .flatten()
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, template, operation)| (template, operation))
}

fn validator_for(pointer: String) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&pointer) {
        return Arc::clone(v);
    }
    // The whole spec is the schema document, so `#/components/...` references resolve; the root
    // `$ref` selects the response schema (draft 4 ignores the siblings of `$ref`).
    let mut root = spec().clone();
    root["$ref"] = json!(pointer);
    let validator = Arc::new(
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}")),
    );
    cache
        .lock()
        .unwrap()
        .insert(pointer, Arc::clone(&validator));
    validator
}

/// A JSON pointer segment, written to fit in a URI fragment.
fn escape(segment: &str) -> String {
    segment
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// Every reply of a spec operation must be one of its documented responses, and its body must
/// match that response's schema.
#[track_caller]
pub fn check_against_spec(method: &Method, path: &str, status: StatusCode, body: &Value) {
    let Some((template, operation)) = find_operation(method, path) else {
        // Routes outside the spec answer with the error shape.
        assert!(
            body["error"].is_string() && body["code"].is_string(),
            "{method} {path}: {body}"
        );
        return;
    };
    let code = status.as_str();
    assert!(
        operation["responses"].get(code).is_some(),
        "{method} {path} answered {status}, which openapi.yaml does not document for it: {body}"
    );
    let pointer = format!(
        "#/paths/{}/{}/responses/{code}",
        escape(template),
        method.as_str().to_ascii_lowercase()
    );
    let response = &operation["responses"][code];
    let pointer = match response.get("$ref").and_then(Value::as_str) {
        Some(shared) => format!("{shared}/content/application~1json/schema"),
        None => format!("{pointer}/content/application~1json/schema"),
    };
    let validator = validator_for(pointer.clone());
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: body does not match {pointer}: {errors:?}\n{body}"
    );
}
