//! A Lambda Runtime API emulator: the endpoints a function's runtime calls
//! (`/2018-06-01/runtime/invocation/next`, `.../{id}/response`, `.../{id}/error` and
//! `/2018-06-01/runtime/init/error`). It hands out queued events and records each answer with the
//! time it arrived. Shared by `crates/lambda/tests/runtime.rs` and `cargo xtask bench cold-start`,
//! so both run the bootstrap the same way.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// What the function answered to one event.
#[derive(Clone, Debug)]
pub struct Answer {
    pub id: String,
    /// When the event left `next`.
    pub delivered: Instant,
    /// When the answer arrived.
    pub answered: Instant,
    pub body: String,
    /// Posted to `.../error` rather than `.../response`.
    pub failed: bool,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<(String, String)>,
    first_poll: Option<Instant>,
    delivered: HashMap<String, Instant>,
    answers: Vec<Answer>,
    init_errors: Vec<String>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    arrived: Notify,
    answered: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The emulator, serving on a free loopback port until dropped.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(
                    |state: State<Arc<Shared>>, id: Path<String>, body: String| {
                        answer(state, id, body, false)
                    },
                ),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(
                    |state: State<Arc<Shared>>, id: Path<String>, body: String| {
                        answer(state, id, body, true)
                    },
                ),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            // The server ends when the emulator is dropped; an accept error ends it early, and
            // whoever waits for answers then times out.
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            shared,
            server,
        })
    }

    /// Queues an event for the function, under the request id `id`.
    pub fn push(&self, id: impl Into<String>, event: impl Into<String>) {
        self.shared
            .lock()
            .events
            .push_back((id.into(), event.into()));
        self.shared.arrived.notify_one();
    }

    /// When the function first asked for an event: the end of its initialisation.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.lock().first_poll
    }

    /// Waits until `count` answers (or an initialisation error) have arrived; false on timeout.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        let all = async {
            loop {
                let answered = self.shared.answered.notified();
                {
                    let queue = self.shared.lock();
                    if queue.answers.len() >= count || !queue.init_errors.is_empty() {
                        return;
                    }
                }
                answered.await;
            }
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }

    pub fn answers(&self) -> Vec<Answer> {
        self.shared.lock().answers.clone()
    }

    pub fn init_errors(&self) -> Vec<String> {
        self.shared.lock().init_errors.clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        let arrived = shared.arrived.notified();
        {
            let mut queue = shared.lock();
            let now = Instant::now();
            queue.first_poll.get_or_insert(now);
            if let Some((id, event)) = queue.events.pop_front() {
                queue.delivered.insert(id.clone(), now);
                return (invocation_headers(&id), event).into_response();
            }
        }
        arrived.await;
    }
}

fn invocation_headers(id: &str) -> HeaderMap {
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 60_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id.to_owned());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:iot-api".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-6745a1b2-0123456789abcdef01234567".to_owned(),
    );
    headers
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
    failed: bool,
) -> StatusCode {
    let answered = Instant::now();
    {
        let mut queue = shared.lock();
        let delivered = queue.delivered.get(&id).copied().unwrap_or(answered);
        queue.answers.push(Answer {
            id,
            delivered,
            answered,
            body,
            failed,
        });
    }
    shared.answered.notify_one();
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: String) -> StatusCode {
    shared.lock().init_errors.push(body);
    shared.answered.notify_one();
    StatusCode::ACCEPTED
}
