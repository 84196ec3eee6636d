//! Jobs, job executions and job templates, as AWS IoT runs them
//! (`shared/reference/aws-iot-semantics.md` sections 3 to 6).
//!
//! Every function here runs inside one transaction opened by the caller.

use std::collections::BTreeMap;

use models::fields::{
    AbortConfig, JobEndBehavior, ReasonCode, RetryConfig, RolloutConfig, SchedulingConfig,
    StatusDetails, Text, TimeoutConfig,
};
use models::ids::{JobId, JobTemplateId, Location, Target, ThingGroupName, ThingName};
use models::job::{
    CancelJob, CancelJobExecution, ExecutionStatus, ExecutionStatusDetails, ExecutionSummary,
    ExecutionSummaryForJob, ExecutionSummaryForThing, Job, JobCreated, JobExecution, JobFilter,
    JobProcessDetails, JobStatus, JobSummary, JobTemplate, JobTemplateCreated, JobTemplateSummary,
    NewJob, NewJobTemplate, TargetSelection, UpdateJob, MAX_JOB_TARGETS,
};
use models::{DomainError, NextToken, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clock::{self, timestamp, Millis};

const MINUTE: Millis = 60_000;
use crate::db::{Fail, Res};
use crate::paging;
use crate::registry;

fn job_not_found(job_id: &JobId) -> Fail {
    DomainError::NotFound(format!("job {job_id:?} does not exist")).into()
}

fn to_json<T: Serialize>(value: &Option<T>) -> Option<String> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
}

/// Reads back a configuration this emulator stored; it was valid when written.
fn from_json<T: DeserializeOwned>(text: Option<String>) -> Res<Option<T>> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| {
            Fail::Domain(DomainError::Internal(format!(
                "stored configuration is unreadable: {e}"
            )))
        })
}

pub(crate) fn parse_status<T>(value: &str, parse: fn(&str) -> Option<T>) -> Res<T> {
    parse(value)
        .ok_or_else(|| DomainError::Internal(format!("stored status {value:?} is unknown")).into())
}

pub(crate) fn job_status(conn: &Connection, job_id: &JobId) -> Res<(JobStatus, TargetSelection)> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT status, target_selection FROM jobs WHERE job_id = ?1")?
        .query_row([job_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (status, selection) = row.ok_or_else(|| job_not_found(job_id))?;
    let selection = if selection == "CONTINUOUS" {
        TargetSelection::Continuous
    } else {
        TargetSelection::Snapshot
    };
    Ok((parse_status(&status, JobStatus::parse)?, selection))
}

/// A target resolved against the registry: its canonical ARN and what it names.
struct ResolvedTarget {
    arn: String,
    thing: Option<ThingName>,
    group: Option<ThingGroupName>,
}

fn resolve_targets(
    conn: &Connection,
    here: &Location,
    targets: &[Target],
) -> Res<Vec<ResolvedTarget>> {
    let mut resolved: Vec<ResolvedTarget> = Vec::new();
    for target in targets {
        let (arn, thing, group) = match target {
            Target::Thing { name, location } => {
                check_location(here, location.as_ref(), &here.thing_arn(name))?;
                if !registry::thing_exists(conn, name)? {
                    return Err(DomainError::NotFound(format!(
                        "target thing {:?} does not exist",
                        name.as_str()
                    ))
                    .into());
                }
                (here.thing_arn(name), Some(name.clone()), None)
            }
            Target::ThingGroup { name, location } => {
                check_location(here, Some(location), &here.thing_group_arn(name))?;
                if !registry::group_exists(conn, name)? {
                    return Err(DomainError::NotFound(format!(
                        "target thing group {:?} does not exist",
                        name.as_str()
                    ))
                    .into());
                }
                (here.thing_group_arn(name), None, Some(name.clone()))
            }
        };
        if !resolved.iter().any(|r| r.arn == arn) {
            resolved.push(ResolvedTarget { arn, thing, group });
        }
    }
    Ok(resolved)
}

fn check_location(here: &Location, given: Option<&Location>, arn: &str) -> Res<()> {
    match given {
        Some(location) if location != here => Err(DomainError::NotFound(format!(
            "target {arn:?} is not in this account and region ({}:{})",
            here.region, here.account
        ))
        .into()),
        _ => Ok(()),
    }
}

fn insert_targets(
    conn: &Connection,
    job_id: &JobId,
    first_position: i64,
    targets: &[ResolvedTarget],
) -> Res<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO job_targets (job_id, position, arn, thing_name, group_name) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (offset, target) in targets.iter().enumerate() {
        insert.execute(params![
            job_id.as_str(),
            first_position + offset as i64,
            target.arn,
            target.thing.as_ref().map(ThingName::as_str),
            target.group.as_ref().map(ThingGroupName::as_str),
        ])?;
    }
    Ok(())
}

/// The things a set of targets reaches: named things, and the members of named groups and of
/// all their descendant groups.
fn things_reached(conn: &Connection, targets: &[ResolvedTarget]) -> Res<Vec<ThingName>> {
    let mut things: Vec<ThingName> = Vec::new();
    for target in targets {
        if let Some(thing) = &target.thing {
            things.push(thing.clone());
        }
        if let Some(group) = &target.group {
            things.extend(registry::things_in_tree(conn, group)?);
        }
    }
    things.sort();
    things.dedup();
    Ok(things)
}

/// Queues an execution of `job_id` on `thing` unless the thing already has one that was not
/// REMOVED. **[inferred]** One execution per (job, thing), however many targets reach it; a
/// thing that was REMOVED and comes back gets a new execution with the next executionNumber.
/// A scheduled job, or one with a rollout rate, takes the thing into its next rollout window.
pub(crate) fn queue_execution(
    conn: &Connection,
    job_id: &str,
    thing: &str,
    now: Millis,
) -> Res<bool> {
    let (status, limited): (String, bool) = conn
        .prepare_cached("SELECT status, rollout_config IS NOT NULL FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if status == JobStatus::Scheduled.as_str() || limited {
        if has_live_execution(conn, job_id, thing)? {
            return Ok(false);
        }
        conn.prepare_cached(
            "INSERT OR IGNORE INTO rollout_pending (job_id, thing_name) VALUES (?1, ?2)",
        )?
        .execute([job_id, thing])?;
        if status != JobStatus::Scheduled.as_str() {
            conn.prepare_cached(
                "UPDATE jobs SET rollout_next_at = COALESCE(rollout_next_at, ?2) WHERE job_id = ?1",
            )?
            .execute(params![job_id, now])?;
        }
        return Ok(true);
    }
    insert_queued(conn, job_id, thing, now)
}

fn has_live_execution(conn: &Connection, job_id: &str, thing: &str) -> Res<bool> {
    let status: Option<String> = conn
        .prepare_cached(
            "SELECT status FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1",
        )?
        .query_row([job_id, thing], |r| r.get(0))
        .optional()?;
    Ok(status.is_some_and(|s| s != ExecutionStatus::Removed.as_str()))
}

/// Queues the execution now, unless the thing has one that was not REMOVED.
fn insert_queued(conn: &Connection, job_id: &str, thing: &str, now: Millis) -> Res<bool> {
    if has_live_execution(conn, job_id, thing)? {
        return Ok(false);
    }
    queue_next_execution(conn, job_id, thing, now, 0)?;
    Ok(true)
}

/// Makes a new QUEUED execution the thing's latest, numbered one past its last.
fn queue_next_execution(
    conn: &Connection,
    job_id: &str,
    thing: &str,
    now: Millis,
    retry_attempt: i64,
) -> Res<()> {
    conn.prepare_cached(
        "UPDATE job_executions SET latest = 0 WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1",
    )?
    .execute([job_id, thing])?;
    conn.prepare_cached(
        "INSERT INTO job_executions (job_id, thing_name, execution_number, latest, status, status_details, \
         version_number, queued_at, last_updated_at, retry_attempt) \
         SELECT ?1, ?2, COALESCE(MAX(execution_number), 0) + 1, 1, 'QUEUED', '{}', 1, ?3, ?3, ?4 \
         FROM job_executions WHERE job_id = ?1 AND thing_name = ?2",
    )?
    .execute(params![job_id, thing, now, retry_attempt])?;
    Ok(())
}

/// Moves a job's latest executions in `from` to `to`, bumping their versions. Returns how many.
fn move_executions(
    conn: &Connection,
    job_id: &str,
    thing: Option<&str>,
    from: &[ExecutionStatus],
    to: ExecutionStatus,
    force_canceled: bool,
    now: Millis,
) -> Res<usize> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let sql = format!(
        "UPDATE job_executions SET status = ?1, version_number = version_number + 1, last_updated_at = ?2, \
         force_canceled = force_canceled OR ?3 \
         WHERE job_id = ?4 AND latest = 1 AND (?5 IS NULL OR thing_name = ?5) AND status IN ({})",
        from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",")
    );
    Ok(conn.prepare_cached(&sql)?.execute(params![
        to.as_str(),
        now,
        force_canceled,
        job_id,
        thing
    ])?)
}

/// A SNAPSHOT job is COMPLETED once none of its executions can change any more.
pub(crate) fn complete_if_done(conn: &Connection, job_id: &str, now: Millis) -> Res<()> {
    conn.prepare_cached(
        "UPDATE jobs SET status = 'COMPLETED', completed_at = ?2, last_updated_at = ?2 \
         WHERE job_id = ?1 AND status = 'IN_PROGRESS' AND target_selection = 'SNAPSHOT' \
         AND NOT EXISTS (SELECT 1 FROM job_executions WHERE job_id = ?1 AND latest = 1 \
                         AND status IN ('QUEUED', 'IN_PROGRESS')) \
         AND NOT EXISTS (SELECT 1 FROM rollout_pending WHERE job_id = ?1)",
    )?
    .execute(params![job_id, now])?;
    Ok(())
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
    let template = match &job.job_template_id {
        Some(id) => Some(describe_template(conn, here, id)?),
        None => None,
    };
    let document = match (&job.document, &template) {
        (Some(document), _) => document.as_str().to_owned(),
        (None, Some(template)) => template.document.clone(),
        (None, None) => {
            return Err(DomainError::validation(
                "document",
                "is required unless jobTemplateId is given",
            )
            .into())
        }
    };
    let targets = resolve_targets(conn, here, &job.targets)?;
    let timeout = job
        .timeout_config
        .or_else(|| template.as_ref().and_then(|t| t.timeout_config.clone()));
    let rollout = job.job_executions_rollout_config.or_else(|| {
        template
            .as_ref()
            .and_then(|t| t.job_executions_rollout_config.clone())
    });
    let presigned = job.presigned_url_config.or_else(|| {
        template
            .as_ref()
            .and_then(|t| t.presigned_url_config.clone())
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
         timeout_config, rollout_config, presigned_url_config, created_at, last_updated_at, abort_config, retry_config, \
         scheduling_config, start_due, end_due) \
         VALUES (?1, ?2, ?12, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?13, ?14, ?15)",
    )?
    .execute(params![
        job.job_id.as_str(),
        job.target_selection.as_str(),
        job.description.as_ref().map(|d| d.as_str()),
        document,
        template.as_ref().map(|t| t.job_template_arn.clone()),
        to_json(&timeout),
        to_json(&rollout),
        to_json(&presigned),
        now,
        to_json(&abort),
        to_json(&retry),
        status.as_str(),
        to_json(&schedule),
        schedule.as_ref().map(|s| clock::millis(s.start_time)),
        schedule
            .as_ref()
            .and_then(|s| s.end_time)
            .map(clock::millis),
    ])?;
    insert_targets(conn, &job.job_id, 0, &targets)?;
    let things = things_reached(conn, &targets)?;
    if schedule.is_some() || rollout.is_some() {
        let mut pending = conn.prepare_cached(
            "INSERT OR IGNORE INTO rollout_pending (job_id, thing_name) VALUES (?1, ?2)",
        )?;
        for thing in &things {
            pending.execute([job.job_id.as_str(), thing.as_str()])?;
        }
        if schedule.is_none() {
            roll_out(conn, job.job_id.as_str(), now)?;
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
    complete_if_done(conn, job.job_id.as_str(), now)?;
    Ok(JobCreated {
        job_arn: here.job_arn(&job.job_id),
        job_id: job.job_id,
    })
}

pub(crate) fn update(conn: &Connection, job_id: &JobId, update: UpdateJob, now: Millis) -> Res<()> {
    job_status(conn, job_id)?;
    conn.prepare_cached(
        "UPDATE jobs SET description = COALESCE(?2, description), timeout_config = COALESCE(?3, timeout_config), \
         rollout_config = COALESCE(?4, rollout_config), presigned_url_config = COALESCE(?5, presigned_url_config), \
         last_updated_at = ?6, abort_config = COALESCE(?7, abort_config), retry_config = COALESCE(?8, retry_config) \
         WHERE job_id = ?1",
    )?
    .execute(params![
        job_id.as_str(),
        update.description.as_ref().map(|d| d.as_str()),
        to_json(&update.timeout_config),
        to_json(&update.job_executions_rollout_config),
        to_json(&update.presigned_url_config),
        now,
        to_json(&update.abort_config),
        to_json(&update.job_executions_retry_config),
    ])?;
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
    move_executions(
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
    for table in ["job_executions", "job_targets", "rollout_pending", "jobs"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE job_id = ?1"))?
            .execute([job_id.as_str()])?;
    }
    Ok(())
}

fn process_details(conn: &Connection, job_id: &str) -> Res<JobProcessDetails> {
    let mut details = JobProcessDetails::default();
    let mut stmt = conn.prepare_cached(
        "SELECT status, COUNT(*) FROM job_executions WHERE job_id = ?1 AND latest = 1 GROUP BY status",
    )?;
    let mut rows = stmt.query([job_id])?;
    while let Some(row) = rows.next()? {
        let status: String = row.get(0)?;
        details.add(&parse_status(&status, ExecutionStatus::parse)?, row.get(1)?);
    }
    Ok(details)
}

pub(crate) fn describe(conn: &Connection, here: &Location, job_id: &JobId) -> Res<Job> {
    let mut job = conn
        .prepare_cached(
            "SELECT target_selection, status, description, force_canceled, comment, reason_code, job_template_arn, \
             created_at, last_updated_at, completed_at, timeout_config, rollout_config, presigned_url_config, \
             abort_config, retry_config, scheduling_config FROM jobs WHERE job_id = ?1",
        )?
        .query_row([job_id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                (r.get::<_, i64>(7)?, r.get::<_, i64>(8)?, r.get::<_, Option<i64>>(9)?),
                (r.get::<_, Option<String>>(10)?, r.get::<_, Option<String>>(11)?, r.get::<_, Option<String>>(12)?),
                (r.get::<_, Option<String>>(13)?, r.get::<_, Option<String>>(14)?, r.get::<_, Option<String>>(15)?),
            ))
        })
        .optional()?
        .ok_or_else(|| job_not_found(job_id))?;
    let targets = conn
        .prepare_cached("SELECT arn FROM job_targets WHERE job_id = ?1 ORDER BY position")?
        .query_map([job_id.as_str()], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let (created, updated, completed) = job.7;
    Ok(Job {
        job_arn: here.job_arn(job_id),
        job_id: job_id.clone(),
        targets,
        target_selection: selection(&job.0),
        status: parse_status(&job.1, JobStatus::parse)?,
        description: job.2.take(),
        force_canceled: job.3,
        comment: job.4.take(),
        reason_code: job.5.take(),
        job_template_arn: job.6.take(),
        created_at: timestamp(created),
        last_updated_at: timestamp(updated),
        completed_at: completed.map(timestamp),
        job_process_details: process_details(conn, job_id.as_str())?,
        timeout_config: from_json(job.8 .0.take())?,
        job_executions_rollout_config: from_json(job.8 .1.take())?,
        presigned_url_config: from_json(job.8 .2.take())?,
        abort_config: from_json(job.9 .0.take())?,
        job_executions_retry_config: from_json(job.9 .1.take())?,
        scheduling_config: from_json(job.9 .2.take())?,
    })
}

fn selection(value: &str) -> TargetSelection {
    if value == "CONTINUOUS" {
        TargetSelection::Continuous
    } else {
        TargetSelection::Snapshot
    }
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
    let rows = stmt
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
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    (
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ),
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, id, target_selection, status, (created, updated, completed)) in rows {
        let job_id = stored_id(JobId::parse(id))?;
        items.push((
            seq.to_string(),
            JobSummary {
                job_arn: here.job_arn(&job_id),
                job_id,
                target_selection: selection(&target_selection),
                status: parse_status(&status, JobStatus::parse)?,
                created_at: timestamp(created),
                last_updated_at: timestamp(updated),
                completed_at: completed.map(timestamp),
            },
        ));
    }
    Ok(paging::finish("jobs", &page, items))
}

/// An identifier read back from the store was valid when it was written.
pub(crate) fn stored_id<T>(parsed: Result<T, String>) -> Res<T> {
    parsed.map_err(|e| DomainError::Internal(format!("stored identifier is invalid: {e}")).into())
}

pub(crate) fn associate(
    conn: &Connection,
    here: &Location,
    job_id: &JobId,
    targets: Vec<Target>,
    comment: Option<String>,
    now: Millis,
) -> Res<()> {
    let (status, selection) = job_status(conn, job_id)?;
    // **[inferred]** AWS answers InvalidRequestException for these; here they are conflicts
    // with the job's state (409), since the request itself is well formed.
    if selection != TargetSelection::Continuous {
        return Err(DomainError::Conflict(format!(
            "job {:?} is a SNAPSHOT job; only CONTINUOUS jobs accept new targets",
            job_id.as_str()
        ))
        .into());
    }
    if status != JobStatus::InProgress {
        return Err(DomainError::Conflict(format!(
            "job {:?} is {}; targets can be added only to IN_PROGRESS jobs",
            job_id.as_str(),
            status.as_str()
        ))
        .into());
    }
    let existing: Vec<String> = conn
        .prepare_cached("SELECT arn FROM job_targets WHERE job_id = ?1 ORDER BY position")?
        .query_map([job_id.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let new: Vec<ResolvedTarget> = resolve_targets(conn, here, &targets)?
        .into_iter()
        .filter(|t| !existing.contains(&t.arn))
        .collect();
    if existing.len() + new.len() > MAX_JOB_TARGETS {
        return Err(DomainError::LimitExceeded(format!(
            "job {:?} has {} targets; adding {} would pass the limit of {MAX_JOB_TARGETS}",
            job_id.as_str(),
            existing.len(),
            new.len()
        ))
        .into());
    }
    insert_targets(conn, job_id, existing.len() as i64, &new)?;
    for thing in things_reached(conn, &new)? {
        queue_execution(conn, job_id.as_str(), thing.as_str(), now)?;
    }
    conn.prepare_cached(
        "UPDATE jobs SET comment = COALESCE(?2, comment), last_updated_at = ?3 WHERE job_id = ?1",
    )?
    .execute(params![job_id.as_str(), comment, now])?;
    Ok(())
}

struct ExecutionRow {
    status: ExecutionStatus,
    version_number: i64,
}

fn latest_execution(conn: &Connection, job_id: &JobId, thing: &ThingName) -> Res<ExecutionRow> {
    job_status(conn, job_id)?;
    let row: Option<(String, i64)> = conn
        .prepare_cached(
            "SELECT status, version_number FROM job_executions \
             WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1",
        )?
        .query_row([job_id.as_str(), thing.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (status, version_number) = row.ok_or_else(|| execution_not_found(job_id, thing))?;
    Ok(ExecutionRow {
        status: parse_status(&status, ExecutionStatus::parse)?,
        version_number,
    })
}

fn execution_not_found(job_id: &JobId, thing: &ThingName) -> Fail {
    DomainError::NotFound(format!(
        "job {:?} has no execution on thing {:?}",
        job_id.as_str(),
        thing.as_str()
    ))
    .into()
}

fn check_version(expected: Option<i64>, row: &ExecutionRow) -> Res<()> {
    match expected {
        Some(expected) if expected != row.version_number => {
            Err(DomainError::VersionConflict(format!(
                "expectedVersion is {expected} but the execution is at version {}",
                row.version_number
            ))
            .into())
        }
        _ => Ok(()),
    }
}

fn set_status_details(
    conn: &Connection,
    job_id: &str,
    thing: &str,
    details: &Option<StatusDetails>,
) -> Res<()> {
    if let Some(details) = details {
        let text = serde_json::to_string(details.as_map()).unwrap_or_default();
        conn.prepare_cached(
            "UPDATE job_executions SET status_details = ?3 WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1",
        )?
        .execute(params![job_id, thing, text])?;
    }
    Ok(())
}

pub(crate) fn cancel_execution(
    conn: &Connection,
    cancel: CancelJobExecution,
    now: Millis,
) -> Res<()> {
    let row = latest_execution(conn, &cancel.job_id, &cancel.thing_name)?;
    check_version(cancel.expected_version, &row)?;
    match row.status {
        ExecutionStatus::Queued => {}
        ExecutionStatus::InProgress if cancel.force => {}
        ExecutionStatus::InProgress => {
            return Err(DomainError::InvalidStateTransition(
                "the execution is IN_PROGRESS; cancel it with force=true".into(),
            )
            .into())
        }
        // **[inferred]** A terminal execution cannot be canceled.
        other => {
            return Err(DomainError::InvalidStateTransition(format!(
                "the execution is {} and cannot be canceled",
                other.as_str()
            ))
            .into())
        }
    }
    let (job_id, thing) = (cancel.job_id.as_str(), cancel.thing_name.as_str());
    set_status_details(conn, job_id, thing, &cancel.status_details)?;
    move_executions(
        conn,
        job_id,
        Some(thing),
        std::slice::from_ref(&row.status),
        ExecutionStatus::Canceled,
        cancel.force && row.status == ExecutionStatus::InProgress,
        now,
    )?;
    complete_if_done(conn, job_id, now)
}

/// The job's in-progress timeout, when it has one.
pub(crate) fn in_progress_timeout_minutes(conn: &Connection, job_id: &JobId) -> Res<Option<i64>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT timeout_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id.as_str()], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(from_json::<TimeoutConfig>(text)?.map(|t| t.in_progress_timeout_in_minutes))
}

pub(crate) fn delete_execution(
    conn: &Connection,
    job_id: &JobId,
    thing: &ThingName,
    execution_number: i64,
    force: bool,
    now: Millis,
) -> Res<()> {
    job_status(conn, job_id)?;
    let row: Option<(String, bool)> = conn
        .prepare_cached(
            "SELECT status, latest FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
        )?
        .query_row(params![job_id.as_str(), thing.as_str(), execution_number], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (status, latest) = row.ok_or_else(|| {
        Fail::Domain(DomainError::NotFound(format!(
            "job {:?} has no execution number {execution_number} on thing {:?}",
            job_id.as_str(),
            thing.as_str()
        )))
    })?;
    let status = parse_status(&status, ExecutionStatus::parse)?;
    // **[inferred]** TIMED_OUT counts as terminal here too, though AWS's list omits it.
    if !status.is_terminal() && !force {
        return Err(DomainError::InvalidStateTransition(format!(
            "the execution is {}; only terminal executions can be deleted without force",
            status.as_str()
        ))
        .into());
    }
    conn.prepare_cached("DELETE FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3")?
        .execute(params![job_id.as_str(), thing.as_str(), execution_number])?;
    if latest {
        conn.prepare_cached(
            "UPDATE job_executions SET latest = 1 WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = \
             (SELECT MAX(execution_number) FROM job_executions WHERE job_id = ?1 AND thing_name = ?2)",
        )?
        .execute([job_id.as_str(), thing.as_str()])?;
    }
    complete_if_done(conn, job_id.as_str(), now)
}

const EXECUTION_COLUMNS: &str =
    "status, status_details, force_canceled, queued_at, started_at, last_updated_at, execution_number, version_number";

fn read_execution(
    here: &Location,
    job_id: &JobId,
    thing: &ThingName,
    r: &Row<'_>,
) -> rusqlite::Result<(String, String, JobExecution)> {
    let status: String = r.get(0)?;
    let details: String = r.get(1)?;
    let execution = JobExecution {
        job_id: job_id.clone(),
        thing_name: thing.clone(),
        thing_arn: here.thing_arn(thing),
        status: ExecutionStatus::Queued,
        status_details: ExecutionStatusDetails::default(),
        force_canceled: r.get(2)?,
        queued_at: timestamp(r.get(3)?),
        started_at: r.get::<_, Option<i64>>(4)?.map(timestamp),
        last_updated_at: timestamp(r.get(5)?),
        execution_number: r.get(6)?,
        version_number: r.get(7)?,
    };
    Ok((status, details, execution))
}

pub(crate) fn describe_execution(
    conn: &Connection,
    here: &Location,
    job_id: &JobId,
    thing: &ThingName,
    execution_number: Option<i64>,
) -> Res<JobExecution> {
    job_status(conn, job_id)?;
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 \
         AND (CASE WHEN ?3 IS NULL THEN latest = 1 ELSE execution_number = ?3 END)"
    );
    let (status, details, mut execution) = conn
        .prepare_cached(&sql)?
        .query_row(
            params![job_id.as_str(), thing.as_str(), execution_number],
            |r| read_execution(here, job_id, thing, r),
        )
        .optional()?
        .ok_or_else(|| execution_not_found(job_id, thing))?;
    execution.status = parse_status(&status, ExecutionStatus::parse)?;
    execution.status_details.details_map =
        serde_json::from_str::<BTreeMap<String, String>>(&details).map_err(|e| {
            Fail::Domain(DomainError::Internal(format!(
                "stored status details are unreadable: {e}"
            )))
        })?;
    Ok(execution)
}

fn summary(r: &Row<'_>, offset: usize) -> rusqlite::Result<(String, ExecutionSummary)> {
    let status: String = r.get(offset)?;
    Ok((
        status,
        ExecutionSummary {
            status: ExecutionStatus::Queued,
            queued_at: timestamp(r.get(offset + 1)?),
            started_at: r.get::<_, Option<i64>>(offset + 2)?.map(timestamp),
            last_updated_at: timestamp(r.get(offset + 3)?),
            execution_number: r.get(offset + 4)?,
        },
    ))
}

/// A job's executions in thing-name order, paged by (thing name, execution number), which the
/// table's unique key indexes.
pub(crate) fn list_executions_for_job(
    conn: &Connection,
    here: &Location,
    job_id: &JobId,
    status: Option<ExecutionStatus>,
    page: PageRequest,
) -> Res<Page<ExecutionSummaryForJob>> {
    job_status(conn, job_id)?;
    let (after_thing, after_number) = match paging::after_key("executions", &page)? {
        None => (String::new(), 0),
        Some(key) => {
            let (thing, number) = key.rsplit_once('/').ok_or_else(NextToken::invalid)?;
            (
                thing.to_owned(),
                number.parse::<i64>().map_err(|_| NextToken::invalid())?,
            )
        }
    };
    let mut stmt = conn.prepare_cached(
        "SELECT thing_name, status, queued_at, started_at, last_updated_at, execution_number \
         FROM job_executions WHERE job_id = ?1 AND (thing_name, execution_number) > (?2, ?3) \
         AND (?4 IS NULL OR status = ?4) ORDER BY thing_name, execution_number LIMIT ?5",
    )?;
    let rows = stmt
        .query_map(
            params![
                job_id.as_str(),
                after_thing,
                after_number,
                status.as_ref().map(ExecutionStatus::as_str),
                paging::fetch_limit(&page)
            ],
            |r| Ok((r.get::<_, String>(0)?, summary(r, 1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (thing, (status, mut summary)) in rows {
        summary.status = parse_status(&status, ExecutionStatus::parse)?;
        let key = format!("{thing}/{}", summary.execution_number);
        let thing = stored_id(ThingName::parse(thing))?;
        items.push((
            key,
            ExecutionSummaryForJob {
                thing_arn: here.thing_arn(&thing),
                job_execution: summary,
            },
        ));
    }
    Ok(paging::finish("executions", &page, items))
}

pub(crate) fn list_executions_for_thing(
    conn: &Connection,
    thing: &ThingName,
    status: Option<ExecutionStatus>,
    page: PageRequest,
) -> Res<Page<ExecutionSummaryForThing>> {
    if !registry::thing_exists(conn, thing)? {
        return Err(registry::thing_not_found(thing));
    }
    let after = paging::after_seq("thing-executions", &page)?;
    let mut stmt = conn.prepare_cached(
        "SELECT seq, job_id, status, queued_at, started_at, last_updated_at, execution_number \
         FROM job_executions WHERE thing_name = ?1 AND seq > ?2 AND (?3 IS NULL OR status = ?3) ORDER BY seq LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(
            params![
                thing.as_str(),
                after,
                status.as_ref().map(ExecutionStatus::as_str),
                paging::fetch_limit(&page)
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, summary(r, 2)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, job_id, (status, mut summary)) in rows {
        summary.status = parse_status(&status, ExecutionStatus::parse)?;
        items.push((
            seq.to_string(),
            ExecutionSummaryForThing {
                job_id: stored_id(JobId::parse(job_id))?,
                job_execution: summary,
            },
        ));
    }
    Ok(paging::finish("thing-executions", &page, items))
}

/// When a thing stops being reachable by a job's targets, its QUEUED execution is REMOVED
/// (**[inferred]**: an IN_PROGRESS one is left to finish).
pub(crate) fn remove_queued_execution(
    conn: &Connection,
    job_id: &str,
    thing: &str,
    now: Millis,
) -> Res<()> {
    conn.prepare_cached("DELETE FROM rollout_pending WHERE job_id = ?1 AND thing_name = ?2")?
        .execute([job_id, thing])?;
    move_executions(
        conn,
        job_id,
        Some(thing),
        &[ExecutionStatus::Queued],
        ExecutionStatus::Removed,
        false,
        now,
    )?;
    complete_if_done(conn, job_id, now)
}

fn template_not_found(id: &JobTemplateId) -> Fail {
    DomainError::NotFound(format!("job template {:?} does not exist", id.as_str())).into()
}

pub(crate) fn create_template(
    conn: &Connection,
    here: &Location,
    t: NewJobTemplate,
    now: Millis,
) -> Res<JobTemplateCreated> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO job_templates (template_id, description, document, timeout_config, rollout_config, \
             presigned_url_config, created_at, abort_config, retry_config) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (template_id) DO NOTHING",
        )?
        .execute(params![
            t.job_template_id.as_str(),
            t.description.as_str(),
            t.document.as_str(),
            to_json(&t.timeout_config),
            to_json(&t.job_executions_rollout_config),
            to_json(&t.presigned_url_config),
            now,
            to_json(&t.abort_config),
            to_json(&t.job_executions_retry_config),
        ])?;
    if inserted == 0 {
        return Err(DomainError::AlreadyExists(format!(
            "job template {:?} already exists",
            t.job_template_id.as_str()
        ))
        .into());
    }
    Ok(JobTemplateCreated {
        job_template_arn: here.job_template_arn(&t.job_template_id),
        job_template_id: t.job_template_id,
    })
}

pub(crate) fn describe_template(
    conn: &Connection,
    here: &Location,
    id: &JobTemplateId,
) -> Res<JobTemplate> {
    let row = conn
        .prepare_cached(
            "SELECT description, document, created_at, timeout_config, rollout_config, presigned_url_config, \
             abort_config, retry_config FROM job_templates WHERE template_id = ?1",
        )?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })
        .optional()?
        .ok_or_else(|| template_not_found(id))?;
    Ok(JobTemplate {
        job_template_arn: here.job_template_arn(id),
        job_template_id: id.clone(),
        description: row.0,
        document: row.1,
        created_at: timestamp(row.2),
        timeout_config: from_json(row.3)?,
        job_executions_rollout_config: from_json(row.4)?,
        presigned_url_config: from_json(row.5)?,
        abort_config: from_json(row.6)?,
        job_executions_retry_config: from_json(row.7)?,
    })
}

pub(crate) fn delete_template(conn: &Connection, id: &JobTemplateId) -> Res<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM job_templates WHERE template_id = ?1")?
        .execute([id.as_str()])?;
    if deleted == 0 {
        return Err(template_not_found(id));
    }
    Ok(())
}

pub(crate) fn list_templates(
    conn: &Connection,
    here: &Location,
    page: PageRequest,
) -> Res<Page<JobTemplateSummary>> {
    let after = paging::after_seq("templates", &page)?;
    let rows = conn
        .prepare_cached(
            "SELECT seq, template_id, description, created_at FROM job_templates WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?
        .query_map(params![after, paging::fetch_limit(&page)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, id, description, created) in rows {
        let id = stored_id(JobTemplateId::parse(id))?;
        items.push((
            seq.to_string(),
            JobTemplateSummary {
                job_template_arn: here.job_template_arn(&id),
                job_template_id: id,
                description,
                created_at: timestamp(created),
            },
        ));
    }
    Ok(paging::finish("templates", &page, items))
}

/// What follows an execution ending (SUCCEEDED, FAILED, REJECTED, TIMED_OUT) at `at`: a retry
/// when it failed and the job's retry configuration allows one, then the job's abort criteria.
pub(crate) fn after_end(
    conn: &Connection,
    job_id: &str,
    thing: &str,
    execution_number: i64,
    status: &ExecutionStatus,
    at: Millis,
) -> Res<()> {
    let (job_status, retry, abort): (String, Option<String>, Option<String>) = conn
        .prepare_cached("SELECT status, retry_config, abort_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    if job_status != JobStatus::InProgress.as_str() {
        return Ok(());
    }
    let retryable = matches!(status, ExecutionStatus::Failed | ExecutionStatus::TimedOut);
    if let Some(retry) = from_json::<RetryConfig>(retry).map(|r| r.filter(|_| retryable))? {
        let attempt: i64 = conn
            .prepare_cached(
                "SELECT retry_attempt FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
            )?
            .query_row(params![job_id, thing, execution_number], |r| r.get(0))?;
        if attempt < retry.retries_for(status.as_str()) {
            queue_next_execution(conn, job_id, thing, at, attempt + 1)?;
        }
    }
    if let Some(abort) = from_json::<AbortConfig>(abort)? {
        abort_if_due(conn, job_id, &abort, at)?;
    }
    Ok(())
}

/// Cancels the job when the failures among its finished executions cross a criterion's
/// threshold. **[inferred]** The executed things are those whose latest execution is SUCCEEDED,
/// FAILED, REJECTED or TIMED_OUT (one being retried is not finished); the cancel is CancelJob's
/// without force: QUEUED executions are CANCELED, IN_PROGRESS ones may finish.
fn abort_if_due(conn: &Connection, job_id: &str, abort: &AbortConfig, at: Millis) -> Res<()> {
    let finished: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT status, COUNT(*) FROM job_executions WHERE job_id = ?1 AND latest = 1 \
             AND status IN ('SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT') GROUP BY status",
        )?
        .query_map([job_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let executed: i64 = finished.iter().map(|(_, n)| n).sum();
    for criterion in &abort.criteria_list {
        let failures: i64 = finished
            .iter()
            .filter(|(status, _)| criterion.failure_type.counts(status))
            .map(|(_, n)| n)
            .sum();
        let percentage = failures as f64 * 100.0 / executed.max(1) as f64;
        if executed >= criterion.min_number_of_executed_things
            && percentage >= criterion.threshold_percentage
        {
            let comment = format!(
                "aborted: {failures} of {executed} executed things ended {} ({percentage:.1}%), at or above the abort threshold of {}%",
                criterion.failure_type.as_str(),
                criterion.threshold_percentage
            );
            let job_id = stored_id(JobId::try_from(job_id.to_owned()))?;
            return cancel(
                conn,
                CancelJob {
                    job_id,
                    comment: Text::try_from(comment).ok(),
                    reason_code: ReasonCode::try_from("ABORT_CRITERIA_MET".to_owned()).ok(),
                    force: false,
                },
                at,
            );
        }
    }
    Ok(())
}

/// One rollout window of the job at `at`: queues as many waiting things as the job's rate
/// allows (all of them without a rollout configuration), and sets when the next window opens.
/// With an exponential rate, the rate grows by its factor each time the things notified (or
/// succeeded) since the last increase reach the criterion's number, up to maximumPerMinute.
pub(crate) fn roll_out(conn: &Connection, job_id: &str, at: Millis) -> Res<()> {
    let (config, rate, mark): (Option<String>, Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT rollout_config, rollout_rate, rollout_mark FROM jobs WHERE job_id = ?1",
        )?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let config = from_json::<RolloutConfig>(config)?;
    let (mut rate, mut mark) = (rate, mark);
    if let Some(config) = &config {
        let cap = config.maximum_per_minute.unwrap_or(1000);
        match &config.exponential_rate {
            None => rate = Some(cap),
            Some(exponential) => {
                let current = rate.unwrap_or(exponential.base_rate_per_minute.min(cap));
                let criteria = &exponential.rate_increase_criteria;
                let (count, threshold) = match (
                    criteria.number_of_notified_things,
                    criteria.number_of_succeeded_things,
                ) {
                    (Some(n), _) => (
                        conn.prepare_cached("SELECT COUNT(*) FROM job_executions WHERE job_id = ?1 AND latest = 1")?
                            .query_row([job_id], |r| r.get::<_, i64>(0))?,
                        n,
                    ),
                    (None, n) => (
                        conn.prepare_cached(
                            "SELECT COUNT(*) FROM job_executions WHERE job_id = ?1 AND latest = 1 AND status = 'SUCCEEDED'",
                        )?
                        .query_row([job_id], |r| r.get::<_, i64>(0))?,
                        n.unwrap_or(i64::MAX),
                    ),
                };
                rate = Some(if count - mark >= threshold {
                    mark = count;
                    ((current as f64 * exponential.increment_factor).ceil() as i64).min(cap)
                } else {
                    current
                });
            }
        }
    }
    let things: Vec<String> = conn
        .prepare_cached(
            "SELECT thing_name FROM rollout_pending WHERE job_id = ?1 ORDER BY seq LIMIT ?2",
        )?
        .query_map(params![job_id, rate.unwrap_or(i64::MAX)], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for thing in &things {
        insert_queued(conn, job_id, thing, at)?;
        conn.prepare_cached("DELETE FROM rollout_pending WHERE job_id = ?1 AND thing_name = ?2")?
            .execute([job_id, thing.as_str()])?;
    }
    conn.prepare_cached(
        "UPDATE jobs SET rollout_rate = ?2, rollout_mark = ?3, rollout_next_at = \
         CASE WHEN EXISTS (SELECT 1 FROM rollout_pending WHERE job_id = ?1) THEN ?4 END WHERE job_id = ?1",
    )?
    .execute(params![job_id, rate, mark, at + MINUTE])?;
    complete_if_done(conn, job_id, at)
}

/// A scheduled job's start: it is IN_PROGRESS and its first rollout window opens.
pub(crate) fn start_scheduled(conn: &Connection, job_id: &str, at: Millis) -> Res<()> {
    conn.prepare_cached(
        "UPDATE jobs SET status = 'IN_PROGRESS', start_due = NULL, last_updated_at = ?2 WHERE job_id = ?1",
    )?
    .execute(params![job_id, at])?;
    roll_out(conn, job_id, at)
}

/// A scheduled job's end: nothing more is rolled out, and the job is canceled (with force) when
/// its endBehavior says so. **[inferred]** Without an endBehavior, the rollout stops.
pub(crate) fn end_scheduled(conn: &Connection, job_id: &str, at: Millis) -> Res<()> {
    let schedule: Option<String> = conn
        .prepare_cached("SELECT scheduling_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| r.get(0))?;
    let behavior = from_json::<SchedulingConfig>(schedule)?
        .and_then(|s| s.end_behavior)
        .unwrap_or(JobEndBehavior::StopRollout);
    conn.prepare_cached("DELETE FROM rollout_pending WHERE job_id = ?1")?
        .execute([job_id])?;
    conn.prepare_cached(
        "UPDATE jobs SET end_due = NULL, rollout_next_at = NULL, last_updated_at = ?2 WHERE job_id = ?1",
    )?
    .execute(params![job_id, at])?;
    if behavior == JobEndBehavior::StopRollout {
        return complete_if_done(conn, job_id, at);
    }
    cancel(
        conn,
        CancelJob {
            job_id: stored_id(JobId::try_from(job_id.to_owned()))?,
            comment: Text::try_from("the job's scheduled end time came".to_owned()).ok(),
            reason_code: None,
            force: behavior == JobEndBehavior::ForceCancel,
        },
        at,
    )
}
