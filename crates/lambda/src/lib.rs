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

/// The HTTPS client of the AWS SDK loads the system's root certificates (rustls-native-certs)
/// when the first AWS client is built. Unless `SSL_CERT_FILE` or `SSL_CERT_DIR` says where they
/// are, it reads the system's bundle and then every file of the certificate directories, where
/// distributions may keep the same roots once more (on Debian, 146 files beside
/// ca-certificates.crt, one of them a self-signed certificate that is no CA's). A profile of a
/// cold start found that to be most of its first request (BENCHMARKS.md). When neither
/// variable is set and the system has a bundle, this points `SSL_CERT_FILE` at it, so each
/// root is read once. Call it before any thread starts.
pub fn read_roots_from_bundle() {
    if std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some() {
        return;
    }
    if let Some(bundle) = openssl_probe::probe().cert_file {
        std::env::set_var("SSL_CERT_FILE", bundle);
    }
}

pub use handlers::CORS_ORIGINS_VARIABLE;

/// Logs as JSON lines to stderr, as `RUST_LOG` says (`log_filter`). Every span goes on each
/// line, so it carries the runtime's requestId as well as the request's own.
pub fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .finish()
        .with(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .init();
}

/// What `RUST_LOG` (`directives`) lets through: a level ("warn"), or `target=level` directives
/// separated by commas ("info,aws_smithy_runtime=debug"); "info" when it is unset or
/// unreadable. It is read by tracing-subscriber's `Targets`, not `EnvFilter`, whose regular
/// expressions would add to the artifact what no function here needs.
fn log_filter(directives: Option<&str>) -> tracing_subscriber::filter::Targets {
    directives
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        })
}

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
    Ok(logged(app))
}

/// `app` with each request logged at INFO, as both the API and the console function log them.
fn logged(app: axum::Router) -> axum::Router {
    app.layer(
        tower_http::trace::TraceLayer::new_for_http()
            .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO))
            .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
    )
}

pub use handlers::{FUNCTION_VARIABLE, VERIFIER_FUNCTION as VERIFIER};

/// Whether this process is the upload verifier rather than the API.
pub fn is_verifier() -> bool {
    std::env::var(FUNCTION_VARIABLE).is_ok_and(|v| v == VERIFIER)
}

/// Whether this process serves the fleet console rather than the API.
pub fn is_console() -> bool {
    std::env::var(FUNCTION_VARIABLE).is_ok_and(|v| v == handlers::console::FUNCTION)
}

/// How the console signs in, from the function's environment (what `cargo xtask synth` sets):
/// through the app client `IOT_API_CONSOLE_USER_POOL_CLIENT_ID` of a user pool in
/// `IOT_API_CONSOLE_USER_POOL_REGION` (at `IOT_API_CONSOLE_COGNITO_ENDPOINT` when set), or not
/// at all when no client is named.
pub fn console_sign_in(
    var: impl Fn(&str) -> Option<String>,
) -> Result<handlers::console::SignIn, String> {
    use handlers::console::{SignIn, CLIENT_ID_VARIABLE, ENDPOINT_VARIABLE, REGION_VARIABLE};
    let read = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let Some(client_id) = read(CLIENT_ID_VARIABLE) else {
        return Ok(SignIn::Nothing);
    };
    let region = read(REGION_VARIABLE)
        .ok_or_else(|| format!("{REGION_VARIABLE}: the user pool's region is needed"))?;
    if !region
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!("{REGION_VARIABLE}: {region:?} is not a region"));
    }
    let endpoint = read(ENDPOINT_VARIABLE)
        .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/"));
    if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
        return Err(format!("{ENDPOINT_VARIABLE}: {endpoint:?} is not a URL"));
    }
    Ok(SignIn::Cognito {
        client_id,
        region,
        endpoint,
    })
}

/// What the console function tells the page, from its environment (`var`): how to sign in
/// ([`console_sign_in`]) and the origin of the bucket's upload URLs
/// (`IOT_API_CONSOLE_UPLOAD_ORIGIN`, a scheme and host).
pub fn console_page(
    var: impl Fn(&str) -> Option<String>,
) -> Result<handlers::console::Page, String> {
    use handlers::console::UPLOAD_ORIGIN_VARIABLE;
    let upload_origin = var(UPLOAD_ORIGIN_VARIABLE).filter(|v| !v.trim().is_empty());
    if let Some(origin) = &upload_origin {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .unwrap_or_default();
        if host.is_empty() || host.contains(['/', ' ', ';', '\'']) {
            return Err(format!(
                "{UPLOAD_ORIGIN_VARIABLE}: {origin:?} is not a scheme and host such as https://bucket.s3.eu-west-1.amazonaws.com"
            ));
        }
    }
    Ok(handlers::console::Page {
        sign_in: console_sign_in(&var)?,
        docs: false,
        upload_origin,
    })
}

/// The console function's router: the console's page and files, each request logged.
pub fn console_app(page: handlers::console::Page) -> axum::Router {
    logged(handlers::console::router(page))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tracing::Level;

    use super::log_filter;

    #[test]
    fn rust_log_sets_levels_by_target_and_falls_back_to_info() {
        let warn = log_filter(Some("warn"));
        assert!(warn.would_enable("handlers", &Level::WARN));
        assert!(!warn.would_enable("handlers", &Level::INFO));
        let mixed = log_filter(Some("info,aws_smithy_runtime=debug"));
        assert!(mixed.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!mixed.would_enable("handlers", &Level::DEBUG));
        assert!(mixed.would_enable("handlers", &Level::INFO));
        for unset_or_unreadable in [None, Some("handlers=loud")] {
            let filter = log_filter(unset_or_unreadable);
            assert!(
                filter.would_enable("handlers", &Level::INFO),
                "{unset_or_unreadable:?}"
            );
            assert!(
                !filter.would_enable("handlers", &Level::DEBUG),
                "{unset_or_unreadable:?}"
            );
        }
    }

    /// `read_roots_from_bundle` has the HTTPS client read the system's bundle alone. It must
    /// still hold the roots AWS endpoints chain to (Amazon Trust Services), and nothing that
    /// the full scan of bundle and certificate directories would not trust too. The full scan
    /// may trust more than the system's CA list: on Debian, the directory also holds the
    /// ssl-cert package's self-signed "snakeoil" certificate.
    #[test]
    fn the_system_bundle_holds_the_roots_aws_endpoints_chain_to() {
        let bundle = openssl_probe::probe()
            .cert_file
            .expect("this system has a root certificate bundle");
        let once = rustls_native_certs::load_certs_from_paths(Some(&bundle), None);
        assert!(once.errors.is_empty(), "{:?}", once.errors);
        assert!(
            once.certs.len() > 100,
            "{} roots in {}",
            once.certs.len(),
            bundle.display()
        );
        for root in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(
                once.certs
                    .iter()
                    .any(|cert| cert.windows(root.len()).any(|w| w == root.as_bytes())),
                "{root} is not in {}",
                bundle.display()
            );
        }
        let full_scan = rustls_native_certs::load_native_certs();
        let roots = |certs: &[rustls_pki_types::CertificateDer<'static>]| {
            certs.iter().map(|c| c.to_vec()).collect::<BTreeSet<_>>()
        };
        assert!(roots(&once.certs).is_subset(&roots(&full_scan.certs)));
    }
}
