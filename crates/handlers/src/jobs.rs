//! Handlers of the job and job execution operations.

use axum::extract::{Path, State};
use models::fields::{JobDocument, StatusDetails};
use models::files::{document_with_files, refuse_delivery, FileId, MAX_BATCH};
use models::ids::{JobId, ThingGroupName};
use models::job::{
    AssociateTargets, CancelExecutionBody, CancelJob, CancelJobBody, CancelJobExecution, CreateJob,
    ExecutionStatus, JobFilter, JobSource, JobStatus, NewJob, TargetSelection, UpdateJob,
    MAX_JOB_TARGETS,
};
use models::{DomainError, MaxResults, NextToken};
use serde::Deserialize;

use crate::error::HandlerResult;
use crate::extract::{self, job_id, thing_name, Body, NoBody, NoParams, Query};
use crate::response::{list_response, ok, Created, Done, JobNames, One};
use crate::AppState;

fn check_target_count(count: usize) -> Result<(), DomainError> {
    if count == 0 || count > MAX_JOB_TARGETS {
        return Err(DomainError::validation(
            "targets",
            format!("must hold 1 to {MAX_JOB_TARGETS} targets, got {count}"),
        ));
    }
    Ok(())
}

pub async fn create_job(
    State(backend): State<AppState>,
    Body(body): Body<CreateJob>,
) -> HandlerResult {
    check_target_count(body.targets.len())?;
    let mut source = JobSource::new(body.document, body.job_template_id)?;
    if !body.files.is_empty() {
        source = with_files(&backend, source, &body.files).await?;
    }
    let job_id = match body.job_id {
        Some(id) => id,
        None => JobId::parse(uuid::Uuid::new_v4().to_string()).map_err(DomainError::Internal)?,
    };
    let created = backend
        .create_job(NewJob {
            job_id,
            targets: body.targets,
            target_selection: body.target_selection,
            source,
            description: body.description,
            timeout_config: body.timeout_config,
            job_executions_rollout_config: body.job_executions_rollout_config,
            presigned_url_config: body.presigned_url_config,
            abort_config: body.abort_config,
            job_executions_retry_config: body.job_executions_retry_config,
            scheduling_config: body.scheduling_config,
            files: body.files,
        })
        .await?;
    Ok(ok(Created::new(JobNames {
        job_id: created.job_id,
        job_arn: created.job_arn,
    })))
}

/// The source of a job delivering `files`: its own document gains a `files` list (each file's
/// id, version, checksum, size and URL placeholder) unless it has one; a template's document is
/// used as it is. Every file must exist and be PUBLISHED or DEPRECATED.
async fn with_files(
    backend: &AppState,
    source: JobSource,
    files: &[FileId],
) -> Result<JobSource, DomainError> {
    if files.len() > MAX_BATCH {
        return Err(DomainError::validation(
            "files",
            format!("must hold at most {MAX_BATCH} files, got {}", files.len()),
        ));
    }
    let mut described = Vec::with_capacity(files.len());
    for (i, id) in files.iter().enumerate() {
        if files[..i].contains(id) {
            return Err(DomainError::validation(
                format!("files[{i}]"),
                format!("repeats file {id}; a job names each file once"),
            ));
        }
        let file = backend.describe_file(id).await.map_err(|e| match e {
            DomainError::NotFound(_) => {
                DomainError::NotFound(format!("files[{i}]: file {id} does not exist"))
            }
            other => other,
        })?;
        if let Some(refused) = refuse_delivery(&file) {
            return Err(refused);
        }
        described.push(file);
    }
    let add = |document: &JobDocument| -> Result<JobDocument, DomainError> {
        JobDocument::try_from(document_with_files(document.as_str(), &described)?).map_err(|rule| {
            DomainError::validation("document", format!("with the files listed, {rule}"))
        })
    };
    Ok(match source {
        JobSource::Document(document) => JobSource::Document(add(&document)?),
        JobSource::Template { id, document } => JobSource::Template {
            id,
            document: document.as_ref().map(add).transpose()?,
        },
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListJobsQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    status: Option<JobStatus>,
    target_selection: Option<TargetSelection>,
    thing_group_name: Option<ThingGroupName>,
}

pub async fn list_jobs(
    State(backend): State<AppState>,
    Query(q): Query<ListJobsQuery>,
) -> HandlerResult {
    let filter = JobFilter {
        status: q.status,
        target_selection: q.target_selection,
        thing_group_name: q.thing_group_name,
    };
    let page = backend
        .list_jobs(filter, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("jobs", page))
}

pub async fn describe_job(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    let job = backend.describe_job(&job_id(id)?).await?;
    Ok(ok(One::Job(&job)))
}

pub async fn update_job(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<UpdateJob>,
) -> HandlerResult {
    let id = job_id(id)?;
    if body.is_empty() {
        return Err(DomainError::validation(
            "body",
            "give at least one of description, timeoutConfig, jobExecutionsRolloutConfig, presignedUrlConfig",
        )
        .into());
    }
    backend.update_job(&id, body).await?;
    Ok(ok(Done::Updated))
}

/// `force` in the query string of a delete, which takes no body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForceQuery {
    #[serde(default, deserialize_with = "extract::bool_from_string")]
    force: Option<bool>,
}

pub async fn delete_job(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ForceQuery>,
    _: NoBody,
) -> HandlerResult {
    let id = job_id(id)?;
    backend.delete_job(&id, q.force.unwrap_or(false)).await?;
    Ok(ok(Done::Deleted))
}

pub async fn cancel_job(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    _: Query<NoParams>,
    Body(body): Body<CancelJobBody>,
) -> HandlerResult {
    let job_id = job_id(id)?;
    backend
        .cancel_job(CancelJob {
            job_id,
            comment: body.comment,
            reason_code: body.reason_code,
            force: body.force.unwrap_or(false),
        })
        .await?;
    Ok(ok(Done::Canceled))
}

pub async fn associate_targets_with_job(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<AssociateTargets>,
) -> HandlerResult {
    let id = job_id(id)?;
    check_target_count(body.targets.len())?;
    backend
        .associate_targets_with_job(&id, body.targets, body.comment)
        .await?;
    Ok(ok(Done::Associated))
}

pub async fn get_job_document(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    let document = backend.get_job_document(&job_id(id)?).await?;
    Ok(ok(One::Document(&document)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListExecutionsQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    status: Option<ExecutionStatus>,
}

pub async fn list_job_executions_for_job(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListExecutionsQuery>,
) -> HandlerResult {
    let id = job_id(id)?;
    let page = backend
        .list_job_executions_for_job(&id, q.status, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("executionSummaries", page))
}

pub async fn list_job_executions_for_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ListExecutionsQuery>,
) -> HandlerResult {
    let name = thing_name(name)?;
    let page = backend
        .list_job_executions_for_thing(&name, q.status, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("executionSummaries", page))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionNumberQuery {
    #[serde(default, deserialize_with = "extract::execution_number")]
    execution_number: Option<i64>,
}

pub async fn describe_job_execution(
    State(backend): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<ExecutionNumberQuery>,
) -> HandlerResult {
    let (id, name) = (job_id(id)?, thing_name(name)?);
    let execution = backend
        .describe_job_execution(&id, &name, q.execution_number)
        .await?;
    Ok(ok(One::Execution(&execution)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteExecutionQuery {
    #[serde(default, deserialize_with = "extract::bool_from_string")]
    force: Option<bool>,
    #[serde(default, deserialize_with = "extract::execution_number")]
    execution_number: Option<i64>,
}

pub async fn delete_job_execution(
    State(backend): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<DeleteExecutionQuery>,
    _: NoBody,
) -> HandlerResult {
    let (id, name) = (job_id(id)?, thing_name(name)?);
    let number = match q.execution_number {
        Some(n) => n,
        // Without a number, the latest execution is meant, as GET shows it.
        None => {
            backend
                .describe_job_execution(&id, &name, None)
                .await?
                .execution_number
        }
    };
    backend
        .delete_job_execution(&id, &name, number, q.force.unwrap_or(false))
        .await?;
    Ok(ok(Done::Deleted))
}

pub async fn cancel_job_execution(
    State(backend): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    _: Query<NoParams>,
    Body(body): Body<CancelExecutionBody>,
) -> HandlerResult {
    let (job_id, thing_name) = (job_id(id)?, thing_name(name)?);
    let status_details: Option<StatusDetails> = body.status_details;
    backend
        .cancel_job_execution(CancelJobExecution {
            job_id,
            thing_name,
            force: body.force.unwrap_or(false),
            expected_version: body.expected_version,
            status_details,
        })
        .await?;
    Ok(ok(Done::Canceled))
}
