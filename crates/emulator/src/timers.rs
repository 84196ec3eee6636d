//! What time does by itself: executions that stay IN_PROGRESS past their in-progress timer
//! (`timeoutConfig`) or their step timer (`stepTimeoutInMinutes`) become TIMED_OUT, and are
//! retried or abort their job as any failure would.
//!
//! Everything due is read from the store, and each change is written with its effects in the
//! caller's transaction, so a restart loses nothing and repeats nothing: what was applied is no
//! longer due, and what was not is still due.

use models::job::ExecutionStatus;
use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::db::Res;
use crate::jobs;

/// Applies everything due at or before `now`, oldest first, each at the time it fell due.
pub(crate) fn run_due(conn: &Connection, now: Millis) -> Res<usize> {
    let mut applied = 0;
    while let Some(timeout) = next_timeout(conn, now)? {
        time_out(conn, &timeout)?;
        applied += 1;
    }
    Ok(applied)
}

/// An IN_PROGRESS execution whose earlier timer ran out.
struct DueTimeout {
    job_id: String,
    thing_name: String,
    execution_number: i64,
    at: Millis,
}

fn next_timeout(conn: &Connection, now: Millis) -> Res<Option<DueTimeout>> {
    Ok(conn
        .prepare_cached(
            "SELECT job_id, thing_name, execution_number, \
             MIN(COALESCE(in_progress_deadline, step_deadline), COALESCE(step_deadline, in_progress_deadline)) AS due \
             FROM job_executions WHERE latest = 1 AND status = 'IN_PROGRESS' AND due <= ?1 \
             ORDER BY due, seq LIMIT 1",
        )?
        .query_row([now], |r| {
            Ok(DueTimeout {
                job_id: r.get(0)?,
                thing_name: r.get(1)?,
                execution_number: r.get(2)?,
                at: r.get(3)?,
            })
        })
        .optional()?)
}

fn time_out(conn: &Connection, due: &DueTimeout) -> Res<()> {
    conn.prepare_cached(
        "UPDATE job_executions SET status = ?4, version_number = version_number + 1, last_updated_at = ?5, \
         in_progress_deadline = NULL, step_deadline = NULL \
         WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
    )?
    .execute(params![
        due.job_id,
        due.thing_name,
        due.execution_number,
        ExecutionStatus::TimedOut.as_str(),
        due.at
    ])?;
    jobs::after_end(
        conn,
        &due.job_id,
        &due.thing_name,
        due.execution_number,
        &ExecutionStatus::TimedOut,
        due.at,
    )?;
    jobs::complete_if_done(conn, &due.job_id, due.at)
}
