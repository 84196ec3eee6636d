//! `/_local/clock`: the emulator's time, and moving a manual clock forward. Local only: AWS's
//! time cannot be moved, so this is not part of the API's contract.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use emulator::{Clock, Emulator};
use handlers::extract::{Body, RequestBody};
use handlers::ApiError;
use models::DomainError;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

/// A manual clock moves at most ten years at a time.
const MAX_SECONDS: u64 = 10 * 366 * 24 * 3600;

pub fn router(emulator: Arc<Emulator>) -> Router {
    Router::new()
        .route("/_local/clock", get(show))
        .route("/_local/clock/advance", post(advance))
        .with_state(emulator)
}

fn json(body: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

async fn show(State(emulator): State<Arc<Emulator>>) -> Response {
    let clock = emulator.clock();
    json(serde_json::json!({
        "now": rfc3339(clock.now()),
        "manual": matches!(clock, Clock::Manual(_)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: u64,
}

impl RequestBody for Advance {}

async fn advance(
    State(emulator): State<Arc<Emulator>>,
    Body(body): Body<Advance>,
) -> Result<Response, ApiError> {
    if body.seconds == 0 || body.seconds > MAX_SECONDS {
        return Err(DomainError::validation(
            "seconds",
            format!("must be from 1 to {MAX_SECONDS}, got {}", body.seconds),
        )
        .into());
    }
    let (now, applied) = emulator.advance(Duration::from_secs(body.seconds)).await?;
    Ok(json(
        serde_json::json!({ "now": rfc3339(now), "applied": applied }),
    ))
}
