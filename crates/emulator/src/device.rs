//! The jobs data plane, as a device meets it on AWS IoT (README, Behaviour): its pending
//! executions, starting the next one, describing one, reporting progress.
//!
//! Every function here runs inside one transaction opened by the caller.

use models::device::{
    DeviceExecution, DeviceExecutionSummary, DeviceUpdate, ExecutionState, JobOrNext,
    PendingExecutions, StartNextBody, UpdateReply,
};
use models::fields::StatusDetails;
use models::ids::{JobId, ThingName};
use models::job::ExecutionStatus;
use models::DomainError;
use rusqlite::{params, Connection};

use crate::clock::Millis;
use crate::db::{Fail, Res};
use crate::jobs::executions::Execution;
use crate::jobs::MINUTE;
use crate::{jobs, registry, rows};

fn seconds(millis: Millis) -> i64 {
    millis.div_euclid(1000)
}

impl Execution {
    fn summary(&self) -> DeviceExecutionSummary {
        DeviceExecutionSummary {
            job_id: self.job_id.clone(),
            queued_at: seconds(self.queued_at),
            started_at: self.started_at.map(seconds),
            last_updated_at: seconds(self.last_updated_at),
            version_number: self.version_number,
            execution_number: self.execution_number,
        }
    }

    fn details(&self) -> Option<StatusDetails> {
        StatusDetails::try_from(self.status_details.clone()).ok()
    }

    /// The earlier of the running timers, while the execution is IN_PROGRESS.
    fn deadline(&self) -> Option<Millis> {
        if self.status != ExecutionStatus::InProgress {
            return None;
        }
        match (self.in_progress_deadline, self.step_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn describe(
        &self,
        conn: &Connection,
        include_document: bool,
        now: Millis,
    ) -> Res<DeviceExecution> {
        Ok(DeviceExecution {
            job_id: self.job_id.clone(),
            thing_name: self.thing_name.clone(),
            status: self.status.clone(),
            status_details: self.details(),
            queued_at: seconds(self.queued_at),
            started_at: self.started_at.map(seconds),
            last_updated_at: seconds(self.last_updated_at),
            approximate_seconds_before_timed_out: self
                .deadline()
                .map(|deadline| seconds(deadline - now).max(0)),
            version_number: self.version_number,
            execution_number: self.execution_number,
            job_document: if include_document {
                Some(jobs::document(conn, &self.job_id)?)
            } else {
                None
            },
        })
    }
}

fn require_thing(conn: &Connection, thing: &ThingName) -> Res<()> {
    if !registry::thing_exists(conn, thing)? {
        return Err(registry::thing_not_found(thing));
    }
    Ok(())
}

/// The thing's executions that can still change: IN_PROGRESS first, then QUEUED, each in the
/// order they were queued.
fn pending_executions(conn: &Connection, thing: &ThingName) -> Res<Vec<Execution>> {
    let sql = format!(
        "SELECT {} FROM job_executions WHERE thing_name = ?1 AND latest = 1 \
         AND status IN ('IN_PROGRESS', 'QUEUED') \
         ORDER BY status = 'QUEUED', queued_at, seq",
        Execution::COLUMNS
    );
    Execution::query(conn, &sql, [thing.as_str()])
}

pub(crate) fn pending(conn: &Connection, thing: &ThingName) -> Res<PendingExecutions> {
    require_thing(conn, thing)?;
    let mut reply = PendingExecutions::default();
    for execution in pending_executions(conn, thing)? {
        match execution.status {
            ExecutionStatus::InProgress => reply.in_progress_jobs.push(execution.summary()),
            _ => reply.queued_jobs.push(execution.summary()),
        }
    }
    Ok(reply)
}

/// The job's execution on the thing: the one numbered, or the latest.
fn execution(
    conn: &Connection,
    job_id: &JobId,
    thing: &ThingName,
    execution_number: Option<i64>,
) -> Res<Execution> {
    jobs::job_status(conn, job_id)?;
    Execution::find(conn, job_id, thing, execution_number)?.ok_or_else(|| {
        DomainError::NotFound(match execution_number {
            Some(n) => format!(
                "job {:?} has no execution number {n} on thing {:?}",
                job_id.as_str(),
                thing.as_str()
            ),
            None => format!(
                "job {:?} has no execution on thing {:?}",
                job_id.as_str(),
                thing.as_str()
            ),
        })
        .into()
    })
}

pub(crate) fn describe(
    conn: &Connection,
    thing: &ThingName,
    job: JobOrNext,
    execution_number: Option<i64>,
    include_document: bool,
    now: Millis,
) -> Res<DeviceExecution> {
    let execution = match job {
        JobOrNext::Job(job_id) => execution(conn, &job_id, thing, execution_number)?,
        JobOrNext::Next => {
            require_thing(conn, thing)?;
            pending_executions(conn, thing)?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    Fail::Domain(DomainError::NotFound(format!(
                        "thing {:?} has no pending job execution",
                        thing.as_str()
                    )))
                })?
        }
    };
    execution.describe(conn, include_document, now)
}

pub(crate) fn start_next(
    conn: &Connection,
    thing: &ThingName,
    body: StartNextBody,
    now: Millis,
) -> Res<Option<DeviceExecution>> {
    require_thing(conn, thing)?;
    let Some(next) = pending_executions(conn, thing)?.into_iter().next() else {
        return Ok(None);
    };
    // One already IN_PROGRESS is returned as it is, details and timers unchanged.
    if next.status == ExecutionStatus::InProgress {
        return next.describe(conn, true, now).map(Some);
    }
    let update = DeviceUpdate {
        job_id: next.job_id.clone(),
        thing_name: thing.clone(),
        status: ExecutionStatus::InProgress,
        status_details: body.status_details,
        step_timeout_in_minutes: body.step_timeout_in_minutes,
        expected_version: None,
        execution_number: Some(next.execution_number),
        include_job_execution_state: false,
        include_job_document: false,
    };
    apply(conn, next, &update, now)?;
    execution(conn, &update.job_id, thing, update.execution_number)?
        .describe(conn, true, now)
        .map(Some)
}

/// What a device reports. **[inferred]** A device may move a QUEUED execution straight to a
/// terminal status; it may not set QUEUED, TIMED_OUT, REMOVED or CANCELED.
pub(crate) fn update(conn: &Connection, update: DeviceUpdate, now: Millis) -> Res<UpdateReply> {
    const DEVICE_STATUSES: [ExecutionStatus; 4] = [
        ExecutionStatus::InProgress,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Rejected,
    ];
    if !DEVICE_STATUSES.contains(&update.status) {
        return Err(DomainError::validation(
            "status",
            "a device may set only IN_PROGRESS, SUCCEEDED, FAILED or REJECTED",
        )
        .into());
    }
    let current = execution(
        conn,
        &update.job_id,
        &update.thing_name,
        update.execution_number,
    )?;
    if let Some(expected) = update.expected_version {
        if expected != current.version_number {
            return Err(DomainError::VersionConflict(format!(
                "expectedVersion is {expected} but the execution is at version {}",
                current.version_number
            ))
            .into());
        }
    }
    if current.status.is_terminal() || !current.latest {
        return Err(DomainError::InvalidStateTransition(format!(
            "the execution is {} and cannot change to {}",
            current.status.as_str(),
            update.status.as_str()
        ))
        .into());
    }
    let number = current.execution_number;
    apply(conn, current, &update, now)?;
    let after = execution(conn, &update.job_id, &update.thing_name, Some(number))?;
    Ok(UpdateReply {
        execution_state: update.include_job_execution_state.then(|| ExecutionState {
            status: after.status.clone(),
            status_details: after.details(),
            version_number: after.version_number,
        }),
        job_document: if update.include_job_document {
            Some(jobs::document(conn, &update.job_id)?)
        } else {
            None
        },
    })
}

/// Writes a checked device update: status, details, version, start time and timers.
fn apply(conn: &Connection, current: Execution, update: &DeviceUpdate, now: Millis) -> Res<()> {
    let job_id = update.job_id.as_str();
    let thing = update.thing_name.as_str();
    let starting =
        current.status == ExecutionStatus::Queued && update.status == ExecutionStatus::InProgress;
    let details = match &update.status_details {
        Some(details) => details.as_map().clone(),
        None => current.status_details.clone(),
    };
    let (in_progress_deadline, step_deadline) = if update.status.is_terminal() {
        (None, None)
    } else {
        let in_progress = if starting {
            jobs::executions::in_progress_timeout_minutes(conn, &update.job_id)?
                .map(|m| now + m * MINUTE)
        } else {
            current.in_progress_deadline
        };
        let step = match update.step_timeout_in_minutes {
            Some(-1) => None,
            Some(minutes) => Some(now + minutes * MINUTE),
            None => current.step_deadline,
        };
        (in_progress, step)
    };
    conn.prepare_cached(
        "UPDATE job_executions SET status = ?3, status_details = ?4, version_number = version_number + 1, \
         last_updated_at = ?5, started_at = COALESCE(started_at, CASE WHEN ?3 = 'IN_PROGRESS' THEN ?5 END), \
         in_progress_deadline = ?6, step_deadline = ?7 \
         WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?8",
    )?
    .execute(params![
        job_id,
        thing,
        update.status.as_str(),
        rows::to_json(&details)?,
        now,
        in_progress_deadline,
        step_deadline,
        current.execution_number
    ])?;
    if update.status.is_terminal() {
        jobs::rollout::after_end(
            conn,
            job_id,
            thing,
            current.execution_number,
            &update.status,
            now,
        )?;
    }
    jobs::executions::complete_if_done(conn, job_id, now)
}
