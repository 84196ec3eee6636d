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

/// The router the function serves: every operation, each request logged, and panics answered as
/// 500 errors.
pub fn app(backend: Arc<dyn Backend>) -> axum::Router {
    handlers::router(backend)
        .layer(handlers::catch_panic())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
                )
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
}
