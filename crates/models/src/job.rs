//! Jobs, job executions and job templates: the request bodies clients send and the resources the
//! API returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::error::DomainError;
use crate::fields::{
    AbortConfig, JobDocument, PresignedUrlConfig, ReasonCode, RetryConfig, RolloutConfig,
    SchedulingConfig, StatusDetails, Text, TimeoutConfig,
};
use crate::files::FileId;
use crate::ids::{JobId, JobTemplateId, Target, ThingGroupName, ThingName};

/// Most targets a job may have, counting those added later with associate.
pub const MAX_JOB_TARGETS: usize = 100;

pub use crate::enums::{ExecutionStatus, JobStatus, TargetSelection};

/// Counts of a job's executions by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProcessDetails {
    pub number_of_queued_things: i64,
    pub number_of_in_progress_things: i64,
    pub number_of_succeeded_things: i64,
    pub number_of_failed_things: i64,
    pub number_of_timed_out_things: i64,
    pub number_of_rejected_things: i64,
    pub number_of_removed_things: i64,
    pub number_of_canceled_things: i64,
}

impl JobProcessDetails {
    /// Counts `count` more executions in `status`; unknown statuses are not counted.
    pub fn add(&mut self, status: &ExecutionStatus, count: i64) {
        let slot = match status {
            ExecutionStatus::Queued => &mut self.number_of_queued_things,
            ExecutionStatus::InProgress => &mut self.number_of_in_progress_things,
            ExecutionStatus::Succeeded => &mut self.number_of_succeeded_things,
            ExecutionStatus::Failed => &mut self.number_of_failed_things,
            ExecutionStatus::TimedOut => &mut self.number_of_timed_out_things,
            ExecutionStatus::Rejected => &mut self.number_of_rejected_things,
            ExecutionStatus::Removed => &mut self.number_of_removed_things,
            ExecutionStatus::Canceled => &mut self.number_of_canceled_things,
            ExecutionStatus::Unknown(_) => return,
        };
        *slot += count;
    }
}

/// A job as `GET /jobs/{jobId}` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_arn: String,
    pub job_id: JobId,
    /// Target ARNs, things and thing groups.
    pub targets: Vec<String>,
    pub target_selection: TargetSelection,
    pub status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub force_canceled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_template_arn: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub completed_at: Option<OffsetDateTime>,
    pub job_process_details: JobProcessDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_config: Option<SchedulingConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_config: Option<TimeoutConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_executions_rollout_config: Option<RolloutConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presigned_url_config: Option<PresignedUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AbortConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_executions_retry_config: Option<RetryConfig>,
}

/// A job as `GET /jobs` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub job_arn: String,
    pub job_id: JobId,
    pub target_selection: TargetSelection,
    pub status: JobStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub completed_at: Option<OffsetDateTime>,
}

/// `statusDetails` of an execution, in AWS's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatusDetails {
    pub details_map: BTreeMap<String, String>,
}

/// One execution of a job on one thing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecution {
    pub job_id: JobId,
    pub thing_name: ThingName,
    pub thing_arn: String,
    pub status: ExecutionStatus,
    pub status_details: ExecutionStatusDetails,
    pub force_canceled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_at: OffsetDateTime,
    pub execution_number: i64,
    pub version_number: i64,
}

/// The part of an execution that execution lists show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub status: ExecutionStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated_at: OffsetDateTime,
    pub execution_number: i64,
}

/// An item of `GET /jobs/{jobId}/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummaryForJob {
    pub thing_arn: String,
    pub job_execution: ExecutionSummary,
}

/// An item of `GET /things/{thingName}/jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummaryForThing {
    pub job_id: JobId,
    pub job_execution: ExecutionSummary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplate {
    pub job_template_arn: String,
    pub job_template_id: JobTemplateId,
    pub description: String,
    pub document: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_config: Option<TimeoutConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_executions_rollout_config: Option<RolloutConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presigned_url_config: Option<PresignedUrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AbortConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_executions_retry_config: Option<RetryConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplateSummary {
    pub job_template_arn: String,
    pub job_template_id: JobTemplateId,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Target::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// Body of `POST /jobs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateJob {
    pub scheduling_config: Option<SchedulingConfig>,
    pub job_id: Option<JobId>,
    pub targets: Vec<Target>,
    #[serde(default)]
    pub target_selection: TargetSelection,
    pub document: Option<JobDocument>,
    pub description: Option<Text>,
    pub job_template_id: Option<JobTemplateId>,
    pub timeout_config: Option<TimeoutConfig>,
    pub job_executions_rollout_config: Option<RolloutConfig>,
    pub presigned_url_config: Option<PresignedUrlConfig>,
    pub abort_config: Option<AbortConfig>,
    pub job_executions_retry_config: Option<RetryConfig>,
    /// Firmware files the job delivers (PUBLISHED or DEPRECATED ones).
    #[serde(default)]
    pub files: Vec<FileId>,
}

/// Where a new job's document comes from: its own, or a template's. A template also fills in
/// the configurations the job leaves out, and is recorded on the job even when the job brings
/// its own document.
#[derive(Clone, Debug)]
pub enum JobSource {
    Document(JobDocument),
    Template {
        id: JobTemplateId,
        document: Option<JobDocument>,
    },
}

impl JobSource {
    /// From a create's two fields: a document is required unless a template is named.
    pub fn new(
        document: Option<JobDocument>,
        template: Option<JobTemplateId>,
    ) -> Result<JobSource, DomainError> {
        match (document, template) {
            (document, Some(id)) => Ok(JobSource::Template { id, document }),
            (Some(document), None) => Ok(JobSource::Document(document)),
            (None, None) => Err(DomainError::validation(
                "document",
                "is required unless jobTemplateId is given",
            )),
        }
    }

    /// The job's own document, if it brings one.
    pub fn document(&self) -> Option<&JobDocument> {
        match self {
            JobSource::Document(document) => Some(document),
            JobSource::Template { document, .. } => document.as_ref(),
        }
    }

    /// The template named, if any.
    pub fn template(&self) -> Option<&JobTemplateId> {
        match self {
            JobSource::Document(_) => None,
            JobSource::Template { id, .. } => Some(id),
        }
    }
}

/// A job to create, with its id chosen and its targets checked.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub scheduling_config: Option<SchedulingConfig>,
    pub job_id: JobId,
    pub targets: Vec<Target>,
    pub target_selection: TargetSelection,
    pub source: JobSource,
    pub description: Option<Text>,
    pub timeout_config: Option<TimeoutConfig>,
    pub job_executions_rollout_config: Option<RolloutConfig>,
    pub presigned_url_config: Option<PresignedUrlConfig>,
    pub abort_config: Option<AbortConfig>,
    pub job_executions_retry_config: Option<RetryConfig>,
    /// Files the job delivers: each must be PUBLISHED or DEPRECATED, and none can be deleted
    /// until the job is COMPLETED or CANCELED.
    pub files: Vec<FileId>,
}

/// Body of `PUT /jobs/{jobId}`. Fields left out keep their value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateJob {
    pub description: Option<Text>,
    pub timeout_config: Option<TimeoutConfig>,
    pub job_executions_rollout_config: Option<RolloutConfig>,
    pub presigned_url_config: Option<PresignedUrlConfig>,
    pub abort_config: Option<AbortConfig>,
    pub job_executions_retry_config: Option<RetryConfig>,
}

impl UpdateJob {
    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.timeout_config.is_none()
            && self.job_executions_rollout_config.is_none()
            && self.presigned_url_config.is_none()
            && self.abort_config.is_none()
            && self.job_executions_retry_config.is_none()
    }
}

/// Body of `PUT /jobs/{jobId}/cancel`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelJobBody {
    pub comment: Option<Text>,
    pub reason_code: Option<ReasonCode>,
    pub force: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct CancelJob {
    pub job_id: JobId,
    pub comment: Option<Text>,
    pub reason_code: Option<ReasonCode>,
    pub force: bool,
}

/// Body of `PUT /jobs/{jobId}/associate`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssociateTargets {
    pub targets: Vec<Target>,
    pub comment: Option<Text>,
}

/// Body of `PUT /jobs/{jobId}/things/{thingName}/cancel`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelExecutionBody {
    pub expected_version: Option<i64>,
    pub status_details: Option<StatusDetails>,
    pub force: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct CancelJobExecution {
    pub job_id: JobId,
    pub thing_name: ThingName,
    pub force: bool,
    pub expected_version: Option<i64>,
    pub status_details: Option<StatusDetails>,
}

/// Body of `POST /job-templates`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateJobTemplate {
    pub job_template_id: Option<JobTemplateId>,
    pub description: Text,
    pub document: JobDocument,
    pub timeout_config: Option<TimeoutConfig>,
    pub job_executions_rollout_config: Option<RolloutConfig>,
    pub presigned_url_config: Option<PresignedUrlConfig>,
    pub abort_config: Option<AbortConfig>,
    pub job_executions_retry_config: Option<RetryConfig>,
}

#[derive(Clone, Debug)]
pub struct NewJobTemplate {
    pub job_template_id: JobTemplateId,
    pub description: Text,
    pub document: JobDocument,
    pub timeout_config: Option<TimeoutConfig>,
    pub job_executions_rollout_config: Option<RolloutConfig>,
    pub presigned_url_config: Option<PresignedUrlConfig>,
    pub abort_config: Option<AbortConfig>,
    pub job_executions_retry_config: Option<RetryConfig>,
}

/// What creating a job returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobCreated {
    pub job_id: JobId,
    pub job_arn: String,
}

/// What creating a job template returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobTemplateCreated {
    pub job_template_id: JobTemplateId,
    pub job_template_arn: String,
}

/// Filters of `GET /jobs`.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub target_selection: Option<TargetSelection>,
    pub thing_group_name: Option<ThingGroupName>,
}
