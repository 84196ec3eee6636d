//! The local server: the API router over the embedded emulator, on 127.0.0.1 unless told
//! otherwise, with request logs, CORS for chosen origins, `GET /openapi.yaml` and its interactive
//! documentation at `GET /docs`, the fleet console at `GET /console`; and, on a port
//! of its own as on AWS, the jobs data plane that devices call, on the same emulator.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use emulator::{Clock, Emulator, Storage};
use models::ids::Location;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

mod clock;
mod docs;
pub mod objects;

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
    /// Port of the jobs data plane that devices call (AWS serves it on its own endpoint); 0 picks a free one.
    #[arg(long, env = "IOT_API_DEVICE_PORT", default_value_t = 8081)]
    pub device_port: u16,
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
    /// Run on a clock that moves only when told (POST /_local/clock/advance), to watch timeouts
    /// happen without waiting. It starts now, or where it stood when this database last ran.
    #[arg(long)]
    pub manual_clock: bool,
    /// Largest firmware file accepted, in bytes (S3's limit for one PUT unless told otherwise).
    #[arg(long, value_name = "BYTES", default_value_t = emulator::objects::DEFAULT_MAX_SIZE)]
    pub max_file_size: u64,
    /// Seconds a deprecated thing type must wait before it can be deleted (AWS IoT's 5 minutes).
    #[arg(long, value_name = "SECONDS", default_value_t = emulator::DEFAULT_THING_TYPE_DELETE_WAIT.as_secs())]
    pub thing_type_delete_wait: u64,
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

/// The two HTTP services, on one emulator.
pub struct Apps {
    /// The emulator both serve; [`run`] applies its timed changes every second.
    pub emulator: Arc<Emulator>,
    /// The API: its routes, `/openapi.yaml`, request logs and CORS.
    pub api: Router,
    /// The jobs data plane devices call.
    pub device: Router,
}

fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    DefaultMakeSpan,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

pub fn apps(config: &Config) -> anyhow::Result<Apps> {
    let storage = config.storage()?;
    let location = Location {
        region: config.region.clone(),
        account: config.account.clone(),
    };
    let mut emulator = Emulator::open(&storage, location)
        .with_context(|| format!("opening the local database ({storage:?})"))?
        .with_thing_type_delete_wait(std::time::Duration::from_secs(
            config.thing_type_delete_wait,
        ));
    if config.manual_clock {
        emulator = emulator
            .with_clock(Clock::manual(time::OffsetDateTime::now_utc()))
            .map_err(|e| anyhow::anyhow!("reading the manual clock's time: {e}"))?;
    }
    emulator.objects().set_max_size(config.max_file_size);
    emulator
        .objects()
        .set_public_url(&format!("http://{}:{}", url_host(config.host), config.port));
    let emulator = Arc::new(emulator);
    let device = handlers::device::device_router(emulator.clone())
        .layer(handlers::catch_panic())
        .layer(trace_layer());
    let mut app = handlers::router(emulator.clone())
        .route("/openapi.yaml", get(openapi))
        .merge(docs::router())
        .merge(handlers::console::router(handlers::console::Page {
            sign_in: handlers::console::SignIn::Nothing,
            docs: true,
            upload_origin: None,
        }))
        .merge(handlers::console::redirects())
        .merge(clock::router(emulator.clone()))
        .merge(objects::router(emulator.clone()))
        .layer(handlers::catch_panic());
    if !config.cors_origins.is_empty() {
        let cors = handlers::cors(&config.cors_origins)
            .map_err(|e| anyhow::anyhow!("--cors-origin: {e}"))?;
        app = app.layer(cors);
    }
    Ok(Apps {
        emulator,
        api: app.layer(trace_layer()),
        device,
    })
}

/// A host as a URL names it: loopback when listening on every address, IPv6 in brackets.
fn url_host(host: IpAddr) -> String {
    match host {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_owned(),
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

async fn openapi() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}

/// Binds both services, prints the API's URL on the first line of stdout and the device
/// endpoint's on the second, and serves until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let apps = apps(&config)?;
    let bind = |port| async move {
        let addr = SocketAddr::new(config.host, port);
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))
    };
    let api = bind(config.port).await?;
    let device = bind(config.device_port).await?;
    let (api_addr, device_addr) = (api.local_addr()?, device.local_addr()?);
    // Upload and download URLs name the port actually bound (port 0 picks one).
    apps.emulator.objects().set_public_url(&format!(
        "http://{}:{}",
        url_host(api_addr.ip()),
        api_addr.port()
    ));
    // Whoever started the server may have stopped reading its output; that is no reason to stop.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Listening on http://{api_addr}");
    let _ = writeln!(out, "Device jobs endpoint on http://{device_addr}");
    let _ = out.flush();
    if !config.host.is_loopback() {
        tracing::warn!(%api_addr, "listening beyond loopback: anyone who can reach this address can use the API");
    }
    tokio::spawn(apply_timed_changes(apps.emulator.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(());
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
        let _ = stopped.changed().await;
    };
    tokio::try_join!(
        serve(api, apps.api, until_stopped(stopped.clone())),
        serve(device, apps.device, until_stopped(stopped)),
    )?;
    tracing::info!("stopped");
    Ok(())
}

/// Applies what time makes due (scheduled starts and ends, rollout windows, timeouts), at once
/// and then once a second; [`run`] runs it beside the servers.
pub async fn apply_timed_changes(emulator: Arc<Emulator>) {
    let mut every_second = tokio::time::interval(std::time::Duration::from_secs(1));
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every_second.tick().await;
        match emulator.tick().await {
            Ok(0) => {}
            Ok(applied) => tracing::info!(applied, "applied timed changes"),
            Err(error) => {
                tracing::warn!(%error, "applying timed changes failed; retrying in a second")
            }
        }
    }
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
