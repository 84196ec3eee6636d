//! `bootstrap`: the API on AWS Lambda (`provided.al2023`) behind an API Gateway REST API, on the
//! AWS IoT backend; or, with `IOT_API_FUNCTION=verify-uploads`, the function the files bucket
//! notifies to verify a multipart upload; or, with `IOT_API_FUNCTION=console`, the fleet
//! console's page and files. Logs are JSON lines that carry the invocation's request id.

use std::sync::Arc;

fn main() -> Result<(), lambda_http::Error> {
    lambda::ignore_stage_in_path();
    lambda::read_roots_from_bundle();
    lambda::init_logs();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), lambda_http::Error> {
    if lambda::is_verifier() {
        let backend = match aws_backend::AwsIot::from_env() {
            Ok(backend) if backend.serves_files() => backend,
            Ok(_) => {
                let missing = "the verifier needs the firmware catalog: set IOT_API_FILES_TABLE, \
                               IOT_API_FILES_BUCKET and IOT_API_PRESIGN_ROLE_ARN";
                return refuse_to_start(missing.into()).await;
            }
            Err(error) => return refuse_to_start(error.into()).await,
        };
        let backend = &backend;
        return lambda_http::lambda_runtime::run(lambda_http::service_fn(
            move |event: lambda_http::LambdaEvent<aws_lambda_events::event::s3::S3Event>| async move {
                lambda::verify_uploads(backend, event.payload).await
            },
        ))
        .await;
    }
    if lambda::is_console() {
        return match lambda::console_page(|name| std::env::var(name).ok()) {
            Ok(page) => lambda_http::run(lambda::console_app(page)).await,
            Err(error) => refuse_to_start(error.into()).await,
        };
    }
    let app = match start().await {
        Ok(app) => app,
        Err(error) => return refuse_to_start(error).await,
    };
    lambda_http::run(app).await
}

/// Tells Lambda (and the logs) why the function cannot start.
async fn refuse_to_start(error: lambda_http::Error) -> Result<(), lambda_http::Error> {
    tracing::error!(%error, "the function cannot start");
    lambda::report_init_error(&error.to_string()).await?;
    Err(error)
}

/// The backend from the environment and the API over it.
async fn start() -> Result<axum::Router, lambda_http::Error> {
    let backend = aws_backend::AwsIot::from_env()?;
    Ok(lambda::app(
        Arc::new(backend),
        &lambda::cors_origins_from_env(),
    )?)
}
