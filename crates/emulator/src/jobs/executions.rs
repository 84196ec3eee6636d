//! Job executions: one per (job, thing) at a time, numbered; queued when a target reaches a
//! thing, moved through their states by cancels, deletes and membership changes, and read back
//! one by one or listed per job and per thing.

use std::collections::BTreeMap;

use models::fields::{StatusDetails, TimeoutConfig};
use models::ids::{JobId, Location, ThingName};
use models::job::{
    CancelJobExecution, ExecutionStatus, ExecutionStatusDetails, ExecutionSummary,
    ExecutionSummaryForJob, ExecutionSummaryForThing, JobExecution, JobStatus,
};
use models::{DomainError, NextToken, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::{timestamp, Millis};
use crate::db::{Fail, Res};
use crate::{paging, registry, rows};

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
    let (status, limited): (JobStatus, bool) = conn
        .prepare_cached(
            "SELECT status, rollout_config IS NOT NULL AS limited FROM jobs WHERE job_id = ?1",
        )?
        .query_row([job_id], |r| {
            Ok((rows::text(r, "status")?, r.get("limited")?))
        })?;
    if status == JobStatus::Scheduled || limited {
        if has_live_execution(conn, job_id, thing)? {
            return Ok(false);
        }
        conn.prepare_cached(
            "INSERT OR IGNORE INTO rollout_pending (job_id, thing_name) VALUES (?1, ?2)",
        )?
        .execute([job_id, thing])?;
        if status != JobStatus::Scheduled {
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
    let status: Option<ExecutionStatus> = conn
        .prepare_cached(
            "SELECT status FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1",
        )?
        .query_row([job_id, thing], |r| rows::text(r, "status"))
        .optional()?;
    Ok(status.is_some_and(|s| s != ExecutionStatus::Removed))
}

/// Queues the execution now, unless the thing has one that was not REMOVED.
pub(super) fn insert_queued(
    conn: &Connection,
    job_id: &str,
    thing: &str,
    now: Millis,
) -> Res<bool> {
    if has_live_execution(conn, job_id, thing)? {
        return Ok(false);
    }
    queue_next_execution(conn, job_id, thing, now, 0)?;
    Ok(true)
}

/// Makes a new QUEUED execution the thing's latest, numbered one past its last.
pub(super) fn queue_next_execution(
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
pub(super) fn move_executions(
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

fn latest_execution(conn: &Connection, job_id: &JobId, thing: &ThingName) -> Res<Execution> {
    super::job_status(conn, job_id)?;
    Execution::find(conn, job_id, thing, None)?.ok_or_else(|| execution_not_found(job_id, thing))
}

fn execution_not_found(job_id: &JobId, thing: &ThingName) -> Fail {
    DomainError::NotFound(format!(
        "job {:?} has no execution on thing {:?}",
        job_id.as_str(),
        thing.as_str()
    ))
    .into()
}

fn check_version(expected: Option<i64>, row: &Execution) -> Res<()> {
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
        let text = rows::to_json(details.as_map())?;
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
    let timeout: Option<TimeoutConfig> = conn
        .prepare_cached("SELECT timeout_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id.as_str()], |r| rows::json_opt(r, "timeout_config"))
        .optional()?
        .flatten();
    Ok(timeout.map(|t| t.in_progress_timeout_in_minutes))
}

pub(crate) fn delete_execution(
    conn: &Connection,
    job_id: &JobId,
    thing: &ThingName,
    execution_number: i64,
    force: bool,
    now: Millis,
) -> Res<()> {
    super::job_status(conn, job_id)?;
    let row: Option<(ExecutionStatus, bool)> = conn
        .prepare_cached(
            "SELECT status, latest FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
        )?
        .query_row(params![job_id.as_str(), thing.as_str(), execution_number], |r| {
            Ok((rows::text(r, "status")?, r.get("latest")?))
        })
        .optional()?;
    let (status, latest) = row.ok_or_else(|| {
        Fail::Domain(DomainError::NotFound(format!(
            "job {:?} has no execution number {execution_number} on thing {:?}",
            job_id.as_str(),
            thing.as_str()
        )))
    })?;
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

/// A row of `job_executions`, read in one place: the control plane describes it as a
/// `JobExecution`, the device data plane as its own shapes (`device`).
pub(crate) struct Execution {
    pub(crate) job_id: JobId,
    pub(crate) thing_name: ThingName,
    pub(crate) status: ExecutionStatus,
    pub(crate) status_details: BTreeMap<String, String>,
    pub(crate) force_canceled: bool,
    pub(crate) queued_at: Millis,
    pub(crate) started_at: Option<Millis>,
    pub(crate) last_updated_at: Millis,
    pub(crate) version_number: i64,
    pub(crate) execution_number: i64,
    pub(crate) latest: bool,
    pub(crate) in_progress_deadline: Option<Millis>,
    pub(crate) step_deadline: Option<Millis>,
}

impl Execution {
    pub(crate) const COLUMNS: &str = "job_id, thing_name, status, status_details, force_canceled, \
         queued_at, started_at, last_updated_at, version_number, execution_number, latest, \
         in_progress_deadline, step_deadline";

    fn from_row(r: &Row<'_>) -> rusqlite::Result<Execution> {
        Ok(Execution {
            job_id: rows::text(r, "job_id")?,
            thing_name: rows::text(r, "thing_name")?,
            status: rows::text(r, "status")?,
            status_details: rows::json(r, "status_details")?,
            force_canceled: r.get("force_canceled")?,
            queued_at: r.get("queued_at")?,
            started_at: r.get("started_at")?,
            last_updated_at: r.get("last_updated_at")?,
            version_number: r.get("version_number")?,
            execution_number: r.get("execution_number")?,
            latest: r.get("latest")?,
            in_progress_deadline: r.get("in_progress_deadline")?,
            step_deadline: r.get("step_deadline")?,
        })
    }

    /// The rows of a query selecting `COLUMNS`.
    pub(crate) fn query(
        conn: &Connection,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Res<Vec<Execution>> {
        Ok(conn
            .prepare_cached(sql)?
            .query_map(args, Execution::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The job's execution on the thing: the one numbered, or the latest.
    pub(crate) fn find(
        conn: &Connection,
        job_id: &JobId,
        thing: &ThingName,
        execution_number: Option<i64>,
    ) -> Res<Option<Execution>> {
        let sql = format!(
            "SELECT {} FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 \
             AND (CASE WHEN ?3 IS NULL THEN latest = 1 ELSE execution_number = ?3 END)",
            Execution::COLUMNS
        );
        Ok(Execution::query(
            conn,
            &sql,
            params![job_id.as_str(), thing.as_str(), execution_number],
        )?
        .pop())
    }

    fn job_execution(self, here: &Location) -> JobExecution {
        JobExecution {
            thing_arn: here.thing_arn(&self.thing_name),
            job_id: self.job_id,
            thing_name: self.thing_name,
            status: self.status,
            status_details: ExecutionStatusDetails {
                details_map: self.status_details,
            },
            force_canceled: self.force_canceled,
            queued_at: timestamp(self.queued_at),
            started_at: self.started_at.map(timestamp),
            last_updated_at: timestamp(self.last_updated_at),
            execution_number: self.execution_number,
            version_number: self.version_number,
        }
    }
}

pub(crate) fn describe_execution(
    conn: &Connection,
    here: &Location,
    job_id: &JobId,
    thing: &ThingName,
    execution_number: Option<i64>,
) -> Res<JobExecution> {
    super::job_status(conn, job_id)?;
    Execution::find(conn, job_id, thing, execution_number)?
        .map(|execution| execution.job_execution(here))
        .ok_or_else(|| execution_not_found(job_id, thing))
}

/// The summary columns of a `job_executions` row.
fn summary(r: &Row<'_>) -> rusqlite::Result<ExecutionSummary> {
    Ok(ExecutionSummary {
        status: rows::text(r, "status")?,
        queued_at: timestamp(r.get("queued_at")?),
        started_at: r.get::<_, Option<i64>>("started_at")?.map(timestamp),
        last_updated_at: timestamp(r.get("last_updated_at")?),
        execution_number: r.get("execution_number")?,
    })
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
    super::job_status(conn, job_id)?;
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
    let items = stmt
        .query_map(
            params![
                job_id.as_str(),
                after_thing,
                after_number,
                status.as_ref().map(ExecutionStatus::as_str),
                paging::fetch_limit(&page)
            ],
            |r| {
                let thing: ThingName = rows::text(r, "thing_name")?;
                let summary = summary(r)?;
                Ok((
                    format!("{}/{}", thing.as_str(), summary.execution_number),
                    ExecutionSummaryForJob {
                        thing_arn: here.thing_arn(&thing),
                        job_execution: summary,
                    },
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
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
    let items = stmt
        .query_map(
            params![
                thing.as_str(),
                after,
                status.as_ref().map(ExecutionStatus::as_str),
                paging::fetch_limit(&page)
            ],
            |r| {
                Ok((
                    r.get::<_, i64>("seq")?.to_string(),
                    ExecutionSummaryForThing {
                        job_id: rows::text(r, "job_id")?,
                        job_execution: summary(r)?,
                    },
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
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
