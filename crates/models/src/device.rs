//! The AWS IoT Jobs data plane: what a device asks and reports about its job executions, in the
//! data plane's own wire shapes (epoch-second timestamps, `executionState`, `$next`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fields::StatusDetails;
use crate::ids::{JobId, ThingName};
use crate::job::ExecutionStatus;

/// The job a device names: one job, or `$next`, its next pending execution.
#[derive(Clone, Debug, PartialEq)]
pub enum JobOrNext {
    Job(JobId),
    Next,
}

/// One pending execution as GetPendingJobExecutions lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceExecutionSummary {
    pub job_id: JobId,
    pub queued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    pub last_updated_at: i64,
    pub version_number: i64,
    pub execution_number: i64,
}

/// Reply of GetPendingJobExecutions: IN_PROGRESS first, then QUEUED, each oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingExecutions {
    pub in_progress_jobs: Vec<DeviceExecutionSummary>,
    pub queued_jobs: Vec<DeviceExecutionSummary>,
}

/// An execution as the data plane describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceExecution {
    pub job_id: JobId,
    pub thing_name: ThingName,
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_details: Option<StatusDetails>,
    pub queued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    pub last_updated_at: i64,
    /// Seconds until the running timer (in-progress or step) times the execution out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_seconds_before_timed_out: Option<i64>,
    pub version_number: i64,
    pub execution_number: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_document: Option<String>,
}

/// Body of StartNextPendingJobExecution (`PUT /things/{thingName}/jobs/$next`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartNextBody {
    pub status_details: Option<StatusDetails>,
    pub step_timeout_in_minutes: Option<i64>,
}

/// Body of UpdateJobExecution (`POST /things/{thingName}/jobs/{jobId}`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBody {
    pub status: ExecutionStatus,
    pub status_details: Option<StatusDetails>,
    pub step_timeout_in_minutes: Option<i64>,
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub include_job_execution_state: bool,
    #[serde(default)]
    pub include_job_document: bool,
    pub execution_number: Option<i64>,
}

/// What a device reports about one execution, checked.
#[derive(Clone, Debug)]
pub struct DeviceUpdate {
    pub job_id: JobId,
    pub thing_name: ThingName,
    pub status: ExecutionStatus,
    /// None keeps the details as they are.
    pub status_details: Option<StatusDetails>,
    /// Minutes until the step timer times the execution out; -1 stops the timer.
    pub step_timeout_in_minutes: Option<i64>,
    pub expected_version: Option<i64>,
    pub execution_number: Option<i64>,
    pub include_job_execution_state: bool,
    pub include_job_document: bool,
}

/// An execution's state as UpdateJobExecution returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionState {
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_details: Option<StatusDetails>,
    pub version_number: i64,
}

/// Reply of UpdateJobExecution: the state and the document, each when asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_state: Option<ExecutionState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_document: Option<String>,
}

/// The step timer's range, in minutes; -1 stops a running step timer.
pub const STEP_TIMEOUT_MINUTES: std::ops::RangeInclusive<i64> = 1..=10_080;

/// The jobs data plane a device talks to. Devices set only IN_PROGRESS, SUCCEEDED, FAILED and
/// REJECTED; a terminal execution does not change; every change adds one to the version.
#[async_trait]
pub trait JobsDataPlane: Send + Sync + 'static {
    async fn get_pending_job_executions(&self, thing: &ThingName) -> Result<PendingExecutions>;
    /// Starts the next pending execution (IN_PROGRESS ones first, then the oldest QUEUED); None
    /// when nothing is pending.
    async fn start_next_pending_job_execution(
        &self,
        thing: &ThingName,
        body: StartNextBody,
    ) -> Result<Option<DeviceExecution>>;
    async fn describe_device_execution(
        &self,
        thing: &ThingName,
        job: JobOrNext,
        execution_number: Option<i64>,
        include_job_document: bool,
    ) -> Result<DeviceExecution>;
    async fn update_device_execution(&self, update: DeviceUpdate) -> Result<UpdateReply>;
}
