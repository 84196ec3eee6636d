//! `bootstrap`: the API on AWS Lambda (`provided.al2023`) behind an API Gateway REST API, on the
//! AWS IoT backend. Logs are JSON lines that carry the invocation's request id.

use std::sync::Arc;

fn main() -> Result<(), lambda_http::Error> {
    lambda::ignore_stage_in_path();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Every span, so each line carries the runtime's requestId as well as the request's own.
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), lambda_http::Error> {
    let app = match start().await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "the function cannot start");
            lambda::report_init_error(&error.to_string()).await?;
            return Err(error);
        }
    };
    lambda_http::run(app).await
}

/// The backend from the environment and the API over it.
async fn start() -> Result<axum::Router, lambda_http::Error> {
    let backend = aws_backend::AwsIot::from_env()?;
    Ok(lambda::app(
        Arc::new(backend),
        &lambda::cors_origins_from_env(),
    )?)
}
