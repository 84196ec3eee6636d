//! The Lambda side of the API: the router, as the bootstrap serves it, over any backend.

use std::sync::Arc;

use models::Backend;

/// API Gateway REST events carry the stage in the path ("/prod/jobs"); the router serves
/// "/jobs". This tells lambda_http to leave the stage out. Call it before any thread starts.
pub fn ignore_stage_in_path() {
    if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none() {
        std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true");
    }
}

pub use handlers::CORS_ORIGINS_VARIABLE;

/// The origins of `IOT_API_CORS_ORIGINS`, none when it is unset or empty.
pub fn cors_origins_from_env() -> Vec<String> {
    std::env::var(CORS_ORIGINS_VARIABLE)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The router the function serves: every operation, CORS headers for `cors_origins`, each
/// request logged, and panics answered as 500 errors.
pub fn app(backend: Arc<dyn Backend>, cors_origins: &[String]) -> Result<axum::Router, String> {
    let mut app = handlers::router(backend).layer(handlers::catch_panic());
    if !cors_origins.is_empty() {
        app = app.layer(
            handlers::cors(cors_origins).map_err(|e| format!("{CORS_ORIGINS_VARIABLE}: {e}"))?,
        );
    }
    Ok(app.layer(
        tower_http::trace::TraceLayer::new_for_http()
            .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO))
            .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
    ))
}

pub use handlers::{FUNCTION_VARIABLE, VERIFIER_FUNCTION as VERIFIER};

/// Whether this process is the upload verifier rather than the API.
pub fn is_verifier() -> bool {
    std::env::var(FUNCTION_VARIABLE).is_ok_and(|v| v == VERIFIER)
}

/// The verifier's work for one S3 event: each object it reports is read back and hashed, and
/// its file becomes DRAFT or PENDING_UPLOAD with the reason (`AwsIot::verify_upload`). An error
/// fails the invocation, and Lambda retries an S3 event twice. Object keys arrive URL-encoded;
/// a file's key (`files/<uuid>`) reads the same encoded or not, and any other is ignored.
pub async fn verify_uploads(
    backend: &aws_backend::AwsIot,
    event: aws_lambda_events::event::s3::S3Event,
) -> Result<serde_json::Value, lambda_http::Error> {
    let mut outcomes = Vec::new();
    for record in event.records {
        let Some(key) = record.s3.object.key else {
            continue;
        };
        let outcome = backend.verify_upload(&key).await?;
        let (verdict, detail) = match &outcome {
            aws_backend::Verification::Verified { size } => ("verified", size.to_string()),
            aws_backend::Verification::Refused(why) => ("refused", why.clone()),
            aws_backend::Verification::Ignored(why) => ("ignored", why.clone()),
        };
        tracing::info!(%key, verdict, detail, "upload checked");
        outcomes.push(serde_json::json!({"key": key, "verdict": verdict, "detail": detail}));
    }
    Ok(serde_json::json!({ "objects": outcomes }))
}

/// The error type Lambda shows for a function that could not start.
pub const INIT_ERROR_TYPE: &str = "Runtime.ConfigurationError";

/// Tells the Runtime API that the function cannot start, and why, as the runtime protocol
/// expects of a failed initialization: Lambda then shows `message`, not an exit without a
/// reason. Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) there is nobody to tell.
pub async fn report_init_error(message: &str) -> Result<(), lambda_http::Error> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Ok(());
    }
    let body = serde_json::json!({ "errorMessage": message, "errorType": INIT_ERROR_TYPE });
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", INIT_ERROR_TYPE)
        .header("content-type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(
            body.to_string(),
        ))?;
    let client = lambda_runtime_api_client::PooledClient::builder().build();
    let response = client.call(request).await?;
    if !response.status().is_success() {
        return Err(format!(
            "the Runtime API answered {} to the init error",
            response.status()
        )
        .into());
    }
    Ok(())
}
