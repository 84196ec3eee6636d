//! The AWS IoT Jobs data plane over HTTP, for devices: AWS's paths, bodies and error replies
//! (`x-amzn-ErrorType` and `{"message"}`), so that device code written for AWS, and AWS's SDKs,
//! work against it unchanged.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use models::device::{
    DeviceUpdate, JobOrNext, JobsDataPlane, StartNextBody, UpdateBody, STEP_TIMEOUT_MINUTES,
};
use models::ids::{JobId, ThingName};
use models::DomainError;
use serde::Deserialize;

use crate::error::{ApiError, Shape};
use crate::extract::{bool_from_string, Body, Query};
use crate::response::{ok, Empty, One};

type Plane = Arc<dyn JobsDataPlane>;

/// The four operations of the jobs data plane, at AWS's paths.
pub fn device_router(plane: Plane) -> Router {
    Router::new()
        .route(
            "/things/{thingName}/jobs",
            get(get_pending).fallback(wrong_method),
        )
        .route(
            "/things/{thingName}/jobs/{jobId}",
            get(describe)
                .put(start_next)
                .post(update)
                .fallback(wrong_method),
        )
        .fallback(|request: Request| async move {
            DeviceError::from(ApiError::RouteNotFound(request.uri().path().to_owned()))
        })
        .with_state(plane)
}

async fn wrong_method(request: Request) -> DeviceError {
    let allowed = if request.uri().path().ends_with("/jobs") {
        "GET"
    } else {
        "GET, PUT ($next), POST"
    };
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}; allowed: {allowed}",
        request.method(),
        request.uri().path()
    ))
    .into()
}

/// A failure, as the data plane reports it.
pub struct DeviceError(ApiError);

impl From<ApiError> for DeviceError {
    fn from(e: ApiError) -> Self {
        DeviceError(e)
    }
}

impl From<DomainError> for DeviceError {
    fn from(e: DomainError) -> Self {
        DeviceError(ApiError::Domain(e))
    }
}

impl IntoResponse for DeviceError {
    fn into_response(self) -> Response {
        self.0.render(Shape::DataPlane)
    }
}

type DeviceResult = Result<Response, DeviceError>;

fn thing_name(text: String) -> Result<ThingName, DeviceError> {
    ThingName::try_from(text).map_err(|rule| DomainError::validation("thingName", rule).into())
}

fn job_or_next(text: String) -> Result<JobOrNext, DeviceError> {
    if text == "$next" {
        return Ok(JobOrNext::Next);
    }
    JobId::try_from(text)
        .map(JobOrNext::Job)
        .map_err(|rule| DomainError::validation("jobId", format!("{rule}, or $next")).into())
}

fn step_timeout(minutes: Option<i64>) -> Result<Option<i64>, DeviceError> {
    match minutes {
        Some(m) if m != -1 && !STEP_TIMEOUT_MINUTES.contains(&m) => Err(DomainError::validation(
            "stepTimeoutInMinutes",
            format!(
                "must be from {} to {}, or -1 to stop the step timer; got {m}",
                STEP_TIMEOUT_MINUTES.start(),
                STEP_TIMEOUT_MINUTES.end()
            ),
        )
        .into()),
        other => Ok(other),
    }
}

fn execution_number(number: Option<i64>) -> Result<Option<i64>, DeviceError> {
    match number {
        Some(n) if n < 1 => Err(DomainError::validation(
            "executionNumber",
            format!("must be 1 or more, got {n}"),
        )
        .into()),
        other => Ok(other),
    }
}

/// GetPendingJobExecutions: `GET /things/{thingName}/jobs`.
async fn get_pending(State(plane): State<Plane>, Path(thing): Path<String>) -> DeviceResult {
    let thing = thing_name(thing)?;
    Ok(ok(plane.get_pending_job_executions(&thing).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeQuery {
    #[serde(default, deserialize_with = "bool_from_string")]
    include_job_document: Option<bool>,
    #[serde(default, deserialize_with = "integer_from_string")]
    execution_number: Option<i64>,
}

fn integer_from_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("must be an integer, got {text:?}")))
}

/// DescribeJobExecution: `GET /things/{thingName}/jobs/{jobId}`, where jobId may be `$next`.
async fn describe(
    State(plane): State<Plane>,
    Path((thing, job)): Path<(String, String)>,
    query: Result<Query<DescribeQuery>, ApiError>,
) -> DeviceResult {
    let thing = thing_name(thing)?;
    let job = job_or_next(job)?;
    let Query(query) = query?;
    let execution = plane
        .describe_device_execution(
            &thing,
            job,
            execution_number(query.execution_number)?,
            query.include_job_document.unwrap_or(true),
        )
        .await?;
    Ok(ok(One::DeviceExecution(&execution)))
}

/// StartNextPendingJobExecution: `PUT /things/{thingName}/jobs/$next`.
async fn start_next(
    State(plane): State<Plane>,
    Path((thing, job)): Path<(String, String)>,
    body: Result<Body<StartNextBody>, ApiError>,
) -> DeviceResult {
    let thing = thing_name(thing)?;
    if job != "$next" {
        return Err(DomainError::validation(
            "jobId",
            "only $next can be started (PUT /things/{thingName}/jobs/$next); report on a job with POST",
        )
        .into());
    }
    let Body(mut body) = body?;
    body.step_timeout_in_minutes = step_timeout(body.step_timeout_in_minutes)?;
    let started = plane.start_next_pending_job_execution(&thing, body).await?;
    Ok(match started {
        Some(execution) => ok(One::DeviceExecution(&execution)),
        None => ok(Empty {}),
    })
}

/// UpdateJobExecution: `POST /things/{thingName}/jobs/{jobId}`.
async fn update(
    State(plane): State<Plane>,
    Path((thing, job)): Path<(String, String)>,
    body: Result<Body<UpdateBody>, ApiError>,
) -> DeviceResult {
    let thing_name = thing_name(thing)?;
    let JobOrNext::Job(job_id) = job_or_next(job)? else {
        return Err(DomainError::validation(
            "jobId",
            "name the job to update; $next names no job here",
        )
        .into());
    };
    let Body(body) = body?;
    let update = DeviceUpdate {
        job_id,
        thing_name,
        status: body.status,
        status_details: body.status_details,
        step_timeout_in_minutes: step_timeout(body.step_timeout_in_minutes)?,
        expected_version: body.expected_version,
        execution_number: execution_number(body.execution_number)?,
        include_job_execution_state: body.include_job_execution_state,
        include_job_document: body.include_job_document,
    };
    Ok(ok(plane.update_device_execution(update).await?))
}
