//! Jobs, as AWS IoT runs them: their lifecycle (create, update, cancel, delete, describe, list)
//! here; what they target (`targets`), their executions (`executions`), templates (`templates`),
//! and what time and outcomes do to them: rollout windows, schedules, retries and aborts
//! (`rollout`), as AWS IoT runs them (README, Behaviour).
//!
//! Every function here runs inside one transaction opened by the caller.

pub(crate) mod executions;
pub(crate) mod rollout;
pub(crate) mod targets;
pub(crate) mod templates;

use models::fields::{
    AbortConfig, PresignedUrlConfig, RetryConfig, RolloutConfig, SchedulingConfig, TimeoutConfig,
};
use models::ids::{JobId, Location, ThingGroupName};
use models::job::{
    CancelJob, ExecutionStatus, Job, JobCreated, JobFilter, JobProcessDetails, JobSource,
    JobStatus, JobSummary, NewJob, TargetSelection, UpdateJob,
};
use models::{DomainError, Page, PageRequest};
use rusqlite::{named_params, params, Connection, OptionalExtension, Row};

use crate::clock::{self, timestamp, Millis};
use crate::db::{Fail, Res};
use crate::{paging, rows};

/// A minute in the clock's milliseconds: rollout windows, schedules and step timers count them.
pub(crate) const MINUTE: Millis = 60_000;

fn job_not_found(job_id: &JobId) -> Fail {
    DomainError::NotFound(format!("job {:?} does not exist", job_id.as_str())).into()
}

/// A job's status and target selection; NotFound when there is no such job.
pub(crate) fn job_status(conn: &Connection, job_id: &JobId) -> Res<(JobStatus, TargetSelection)> {
    conn.prepare_cached("SELECT status, target_selection FROM jobs WHERE job_id = ?1")?
        .query_row([job_id.as_str()], |r| {
            Ok((rows::text(r, "status")?, rows::text(r, "target_selection")?))
        })
        .optional()?
        .ok_or_else(|| job_not_found(job_id))
}

pub(crate) fn create(
    conn: &Connection,
    here: &Location,
    job: NewJob,
    now: Millis,
) -> Res<JobCreated> {
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM jobs WHERE job_id = ?1)")?
        .query_row([job.job_id.as_str()], |r| r.get(0))?;
    if exists {
        return Err(DomainError::AlreadyExists(format!(
            "job {:?} already exists",
            job.job_id.as_str()
        ))
        .into());
    }
    let (document, template) = match &job.source {
        JobSource::Document(document) => (document.as_str().to_owned(), None),
        JobSource::Template { id, document } => {
            let template = templates::describe(conn, here, id)?;
            let document = match document {
                Some(document) => document.as_str().to_owned(),
                None => template.document.clone(),
            };
            (document, Some(template))
        }
    };
    let targets = targets::resolve(conn, here, &job.targets)?;
    let timeout = job
        .timeout_config
        .or_else(|| template.as_ref().and_then(|t| t.timeout_config.clone()));
    let rollout = job.job_executions_rollout_config.or_else(|| {
        template
            .as_ref()
            .and_then(|t| t.job_executions_rollout_config.clone())
    });
    // A job delivering files needs its placeholders presigned; the device endpoint does that
    // only for jobs with a presigned URL configuration, as AWS IoT does.
    let presigned = job
        .presigned_url_config
        .or_else(|| {
            template
                .as_ref()
                .and_then(|t| t.presigned_url_config.clone())
        })
        .or_else(|| {
            (!job.files.is_empty()).then_some(PresignedUrlConfig {
                role_arn: None,
                expires_in_sec: models::files::DEFAULT_URL_EXPIRY_SECONDS,
            })
        });
    let abort = job
        .abort_config
        .or_else(|| template.as_ref().and_then(|t| t.abort_config.clone()));
    let retry = job.job_executions_retry_config.or_else(|| {
        template
            .as_ref()
            .and_then(|t| t.job_executions_retry_config.clone())
    });
    let schedule = job.scheduling_config.clone();
    if let Some(schedule) = &schedule {
        if clock::millis(schedule.start_time) < now + 30 * MINUTE {
            return Err(DomainError::validation(
                "schedulingConfig.startTime",
                "must be at least 30 minutes from now",
            )
            .into());
        }
    }
    let status = if schedule.is_some() {
        JobStatus::Scheduled
    } else {
        JobStatus::InProgress
    };
    conn.prepare_cached(
        "INSERT INTO jobs (job_id, target_selection, status, description, document, job_template_arn, \
         timeout_config, rollout_config, presigned_url_config, abort_config, retry_config, scheduling_config, \
         created_at, last_updated_at, start_due, end_due) \
         VALUES (:job_id, :target_selection, :status, :description, :document, :job_template_arn, \
         :timeout_config, :rollout_config, :presigned_url_config, :abort_config, :retry_config, :scheduling_config, \
         :now, :now, :start_due, :end_due)",
    )?
    .execute(named_params! {
        ":job_id": job.job_id.as_str(),
        ":target_selection": job.target_selection.as_str(),
        ":status": status.as_str(),
        ":description": job.description.as_ref().map(|d| d.as_str()),
        ":document": document,
        ":job_template_arn": template.as_ref().map(|t| t.job_template_arn.clone()),
        ":timeout_config": rows::to_json_opt(&timeout)?,
        ":rollout_config": rows::to_json_opt(&rollout)?,
        ":presigned_url_config": rows::to_json_opt(&presigned)?,
        ":abort_config": rows::to_json_opt(&abort)?,
        ":retry_config": rows::to_json_opt(&retry)?,
        ":scheduling_config": rows::to_json_opt(&schedule)?,
        ":now": now,
        ":start_due": schedule.as_ref().map(|s| clock::millis(s.start_time)),
        ":end_due": schedule.as_ref().and_then(|s| s.end_time).map(clock::millis),
    })?;
    targets::insert(conn, &job.job_id, 0, &targets)?;
    crate::catalog::deliver(conn, &job.job_id, &job.files)?;
    let things = targets::things_reached(conn, &targets)?;
    if schedule.is_some() || rollout.is_some() {
        let mut pending = conn.prepare_cached(
            "INSERT OR IGNORE INTO rollout_pending (job_id, thing_name) VALUES (?1, ?2)",
        )?;
        for thing in &things {
            pending.execute([job.job_id.as_str(), thing.as_str()])?;
        }
        if schedule.is_none() {
            rollout::roll_out(conn, job.job_id.as_str(), now)?;
        }
    } else {
        // A new job has no executions yet, so each thing's first is number 1.
        let mut insert = conn.prepare_cached(
            "INSERT INTO job_executions (job_id, thing_name, execution_number, latest, status, status_details, \
             version_number, queued_at, last_updated_at) VALUES (?1, ?2, 1, 1, 'QUEUED', '{}', 1, ?3, ?3)",
        )?;
        for thing in &things {
            insert.execute(params![job.job_id.as_str(), thing.as_str(), now])?;
        }
    }
    // **[inferred]** A SNAPSHOT job whose targets hold no things has nothing to wait for, so it
    // is COMPLETED at once.
    executions::complete_if_done(conn, job.job_id.as_str(), now)?;
    Ok(JobCreated {
        job_arn: here.job_arn(&job.job_id),
        job_id: job.job_id,
    })
}

pub(crate) fn update(conn: &Connection, job_id: &JobId, update: UpdateJob, now: Millis) -> Res<()> {
    job_status(conn, job_id)?;
    conn.prepare_cached(
        "UPDATE jobs SET description = COALESCE(:description, description), \
         timeout_config = COALESCE(:timeout_config, timeout_config), \
         rollout_config = COALESCE(:rollout_config, rollout_config), \
         presigned_url_config = COALESCE(:presigned_url_config, presigned_url_config), \
         abort_config = COALESCE(:abort_config, abort_config), \
         retry_config = COALESCE(:retry_config, retry_config), last_updated_at = :now \
         WHERE job_id = :job_id",
    )?
    .execute(named_params! {
        ":job_id": job_id.as_str(),
        ":description": update.description.as_ref().map(|d| d.as_str()),
        ":timeout_config": rows::to_json_opt(&update.timeout_config)?,
        ":rollout_config": rows::to_json_opt(&update.job_executions_rollout_config)?,
        ":presigned_url_config": rows::to_json_opt(&update.presigned_url_config)?,
        ":abort_config": rows::to_json_opt(&update.abort_config)?,
        ":retry_config": rows::to_json_opt(&update.job_executions_retry_config)?,
        ":now": now,
    })?;
    Ok(())
}

pub(crate) fn cancel(conn: &Connection, cancel: CancelJob, now: Millis) -> Res<()> {
    let id = cancel.job_id.as_str();
    let (status, _) = job_status(conn, &cancel.job_id)?;
    match status {
        JobStatus::InProgress | JobStatus::Scheduled => {}
        // **[inferred]** A canceled job may be canceled again with force, to also cancel the
        // executions that were IN_PROGRESS at the first, unforced cancel.
        JobStatus::Canceled if cancel.force => {}
        // **[inferred]** AWS documents no error for cancelling a finished job; this emulator
        // refuses it as an invalid state transition (409), like a delete of a running job.
        other => {
            return Err(DomainError::InvalidStateTransition(format!(
                "job {id:?} is {} and cannot be canceled{}",
                other.as_str(),
                if other == JobStatus::Canceled {
                    " again without force"
                } else {
                    ""
                }
            ))
            .into())
        }
    }
    let mut from = vec![ExecutionStatus::Queued];
    if cancel.force {
        from.push(ExecutionStatus::InProgress);
    }
    executions::move_executions(
        conn,
        id,
        None,
        &from,
        ExecutionStatus::Canceled,
        cancel.force,
        now,
    )?;
    conn.prepare_cached("DELETE FROM rollout_pending WHERE job_id = ?1")?
        .execute([id])?;
    conn.prepare_cached(
        "UPDATE jobs SET status = 'CANCELED', force_canceled = force_canceled OR ?2, \
         comment = COALESCE(?3, comment), reason_code = COALESCE(?4, reason_code), last_updated_at = ?5, \
         rollout_next_at = NULL, start_due = NULL, end_due = NULL \
         WHERE job_id = ?1",
    )?
    .execute(params![
        id,
        cancel.force,
        cancel.comment.as_ref().map(|c| c.as_str()),
        cancel.reason_code.as_ref().map(|c| c.as_str()),
        now
    ])?;
    Ok(())
}

/// **[inferred]** The emulator deletes synchronously: the job never lingers in
/// DELETION_IN_PROGRESS, so the "10 jobs deleting at once" limit cannot be reached.
pub(crate) fn delete(conn: &Connection, job_id: &JobId, force: bool) -> Res<()> {
    let (status, _) = job_status(conn, job_id)?;
    let finished = matches!(status, JobStatus::Completed | JobStatus::Canceled);
    if !finished && !force {
        return Err(DomainError::InvalidStateTransition(format!(
            "job {:?} is {}; only COMPLETED or CANCELED jobs can be deleted without force",
            job_id.as_str(),
            status.as_str()
        ))
        .into());
    }
    for table in [
        "job_executions",
        "job_execution_counts",
        "job_targets",
        "rollout_pending",
        "job_files",
        "jobs",
    ] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE job_id = ?1"))?
            .execute([job_id.as_str()])?;
    }
    Ok(())
}

fn process_details(conn: &Connection, job_id: &str) -> Res<JobProcessDetails> {
    let mut details = JobProcessDetails::default();
    let mut stmt = conn.prepare_cached(
        "SELECT status, count FROM job_execution_counts WHERE job_id = ?1 AND count > 0",
    )?;
    let mut rows = stmt.query([job_id])?;
    while let Some(row) = rows.next()? {
        details.add(&rows::text(row, "status")?, row.get("count")?);
    }
    Ok(details)
}

/// A row of `jobs` as `describe` reads it.
struct JobRow {
    target_selection: TargetSelection,
    status: JobStatus,
    description: Option<String>,
    force_canceled: bool,
    comment: Option<String>,
    reason_code: Option<String>,
    job_template_arn: Option<String>,
    created_at: Millis,
    last_updated_at: Millis,
    completed_at: Option<Millis>,
    timeout_config: Option<TimeoutConfig>,
    rollout_config: Option<RolloutConfig>,
    presigned_url_config: Option<PresignedUrlConfig>,
    abort_config: Option<AbortConfig>,
    retry_config: Option<RetryConfig>,
    scheduling_config: Option<SchedulingConfig>,
}

impl JobRow {
    const COLUMNS: &str = "target_selection, status, description, force_canceled, comment, reason_code, \
         job_template_arn, created_at, last_updated_at, completed_at, timeout_config, rollout_config, \
         presigned_url_config, abort_config, retry_config, scheduling_config";

    fn from_row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
        Ok(JobRow {
            target_selection: rows::text(r, "target_selection")?,
            status: rows::text(r, "status")?,
            description: r.get("description")?,
            force_canceled: r.get("force_canceled")?,
            comment: r.get("comment")?,
            reason_code: r.get("reason_code")?,
            job_template_arn: r.get("job_template_arn")?,
            created_at: r.get("created_at")?,
            last_updated_at: r.get("last_updated_at")?,
            completed_at: r.get("completed_at")?,
            timeout_config: rows::json_opt(r, "timeout_config")?,
            rollout_config: rows::json_opt(r, "rollout_config")?,
            presigned_url_config: rows::json_opt(r, "presigned_url_config")?,
            abort_config: rows::json_opt(r, "abort_config")?,
            retry_config: rows::json_opt(r, "retry_config")?,
            scheduling_config: rows::json_opt(r, "scheduling_config")?,
        })
    }
}

pub(crate) fn describe(conn: &Connection, here: &Location, job_id: &JobId) -> Res<Job> {
    let sql = format!("SELECT {} FROM jobs WHERE job_id = ?1", JobRow::COLUMNS);
    let job = conn
        .prepare_cached(&sql)?
        .query_row([job_id.as_str()], JobRow::from_row)
        .optional()?
        .ok_or_else(|| job_not_found(job_id))?;
    let targets = conn
        .prepare_cached("SELECT arn FROM job_targets WHERE job_id = ?1 ORDER BY position")?
        .query_map([job_id.as_str()], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(Job {
        job_arn: here.job_arn(job_id),
        job_id: job_id.clone(),
        targets,
        target_selection: job.target_selection,
        status: job.status,
        description: job.description,
        force_canceled: job.force_canceled,
        comment: job.comment,
        reason_code: job.reason_code,
        job_template_arn: job.job_template_arn,
        created_at: timestamp(job.created_at),
        last_updated_at: timestamp(job.last_updated_at),
        completed_at: job.completed_at.map(timestamp),
        job_process_details: process_details(conn, job_id.as_str())?,
        timeout_config: job.timeout_config,
        job_executions_rollout_config: job.rollout_config,
        presigned_url_config: job.presigned_url_config,
        abort_config: job.abort_config,
        job_executions_retry_config: job.retry_config,
        scheduling_config: job.scheduling_config,
    })
}

/// The job's presigned URL configuration, if it has one.
pub(crate) fn presigned_url_config(
    conn: &Connection,
    job_id: &JobId,
) -> Res<Option<PresignedUrlConfig>> {
    conn.prepare_cached("SELECT presigned_url_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id.as_str()], |r| {
            rows::json_opt(r, "presigned_url_config")
        })
        .optional()?
        .ok_or_else(|| job_not_found(job_id))
}

pub(crate) fn document(conn: &Connection, job_id: &JobId) -> Res<String> {
    conn.prepare_cached("SELECT document FROM jobs WHERE job_id = ?1")?
        .query_row([job_id.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| job_not_found(job_id))
}

pub(crate) fn list(
    conn: &Connection,
    here: &Location,
    filter: JobFilter,
    page: PageRequest,
) -> Res<Page<JobSummary>> {
    let after = paging::after_seq("jobs", &page)?;
    let mut stmt = conn.prepare_cached(
        "SELECT seq, job_id, target_selection, status, created_at, last_updated_at, completed_at FROM jobs \
         WHERE seq > ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR target_selection = ?3) \
         AND (?4 IS NULL OR job_id IN (SELECT job_id FROM job_targets WHERE group_name = ?4)) \
         ORDER BY seq LIMIT ?5",
    )?;
    let items = stmt
        .query_map(
            params![
                after,
                filter.status.as_ref().map(JobStatus::as_str),
                filter
                    .target_selection
                    .as_ref()
                    .map(TargetSelection::as_str),
                filter.thing_group_name.as_ref().map(ThingGroupName::as_str),
                paging::fetch_limit(&page)
            ],
            |r| {
                let job_id: JobId = rows::text(r, "job_id")?;
                Ok((
                    r.get::<_, i64>("seq")?.to_string(),
                    JobSummary {
                        job_arn: here.job_arn(&job_id),
                        job_id,
                        target_selection: rows::text(r, "target_selection")?,
                        status: rows::text(r, "status")?,
                        created_at: timestamp(r.get("created_at")?),
                        last_updated_at: timestamp(r.get("last_updated_at")?),
                        completed_at: r.get::<_, Option<i64>>("completed_at")?.map(timestamp),
                    },
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paging::finish("jobs", &page, items))
}
