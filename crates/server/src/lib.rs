//! The local server: the API router over the embedded emulator, on 127.0.0.1 unless told
//! otherwise, with request logs, CORS for chosen origins and `GET /openapi.yaml`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use emulator::{Emulator, Storage};
use models::ids::Location;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The contract, served as it is in the repository.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// Runs the IoT device management API locally, on an embedded emulator of AWS IoT.
#[derive(Debug, Clone, Parser)]
#[command(name = "iot-api-local", version)]
pub struct Config {
    /// Address to listen on. Anything other than loopback exposes the API to your network.
    #[arg(long, env = "IOT_API_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, env = "IOT_API_PORT", default_value_t = 8080)]
    pub port: u16,
    /// SQLite database file, created when missing; state survives restarts.
    #[arg(
        long,
        env = "IOT_API_DB",
        default_value = "data/local.db",
        conflicts_with = "memory"
    )]
    pub db: PathBuf,
    /// Keep state in memory only; it is gone when the server stops.
    #[arg(long)]
    pub memory: bool,
    /// Origin allowed to call the API from a browser (repeatable), e.g. http://localhost:5173.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// AWS region that ARNs name.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// AWS account id that ARNs name.
    #[arg(long, default_value = "000000000000")]
    pub account: String,
}

impl Config {
    fn storage(&self) -> anyhow::Result<Storage> {
        if self.memory {
            return Ok(Storage::Memory);
        }
        if let Some(dir) = self.db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Storage::File(self.db.clone()))
    }
}

/// The whole application: API routes, `/openapi.yaml`, request logs and CORS.
pub fn app(config: &Config) -> anyhow::Result<Router> {
    let storage = config.storage()?;
    let location = Location {
        region: config.region.clone(),
        account: config.account.clone(),
    };
    let emulator = Emulator::open(&storage, location)
        .with_context(|| format!("opening the local database ({storage:?})"))?;
    let mut app = handlers::router(Arc::new(emulator))
        .route("/openapi.yaml", get(openapi))
        .layer(handlers::catch_panic());
    if !config.cors_origins.is_empty() {
        let cors = handlers::cors(&config.cors_origins)
            .map_err(|e| anyhow::anyhow!("--cors-origin: {e}"))?;
        app = app.layer(cors);
    }
    Ok(app.layer(
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
            .on_response(DefaultOnResponse::new().level(Level::INFO)),
    ))
}

async fn openapi() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}

/// Binds, prints the URL on the first line of stdout, and serves until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let app = app(&config)?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    println!("Listening on http://{local}");
    if !config.host.is_loopback() {
        tracing::warn!(%local, "listening beyond loopback: anyone who can reach this address can use the API");
    }
    serve(listener, app, shutdown_signal()).await
}

/// Serves `app` on `listener` until `shutdown` completes, letting requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
