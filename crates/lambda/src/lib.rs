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
