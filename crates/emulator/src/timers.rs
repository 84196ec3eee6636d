//! What time does by itself: scheduled jobs start and end, rollout windows open (a rate of
//! executions per minute), and executions that stay IN_PROGRESS past their in-progress timer
//! (`timeoutConfig`) or their step timer (`stepTimeoutInMinutes`) become TIMED_OUT, and are
//! retried or abort their job as any failure would.
//!
//! Everything due is read from the store, and each change is written with its effects in the
//! caller's transaction, so a restart loses nothing and repeats nothing: what was applied is no
//! longer due, and what was not is still due.

use models::job::ExecutionStatus;
use rusqlite::{named_params, params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::db::Res;
use crate::jobs::{executions, rollout};

/// Applies everything due at or before `now`, oldest first, each at the time it fell due.
pub(crate) fn run_due(conn: &Connection, now: Millis) -> Res<usize> {
    let mut applied = 0;
    loop {
        let timeout = next_timeout(conn, now)?;
        let job_event = next_job_event(conn, now)?;
        match (timeout, job_event) {
            (None, None) => return Ok(applied),
            (Some(t), Some(e)) if e.at <= t.at => apply_job_event(conn, &e)?,
            (Some(t), _) => time_out(conn, &t)?,
            (None, Some(e)) => apply_job_event(conn, &e)?,
        }
        applied += 1;
    }
}

/// A job's scheduled start or end, or its next rollout window.
struct JobEvent {
    job_id: String,
    kind: JobEventKind,
    at: Millis,
}

/// What falls due for a job; at the same time, in this order (the query sorts by `rank`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum JobEventKind {
    Start,
    RolloutWindow,
    End,
}

impl JobEventKind {
    const ALL: [JobEventKind; 3] = [Self::Start, Self::RolloutWindow, Self::End];

    fn rank(self) -> i64 {
        self as i64
    }

    fn from_rank(rank: i64) -> Option<JobEventKind> {
        Self::ALL.into_iter().find(|kind| kind.rank() == rank)
    }
}

fn next_job_event(conn: &Connection, now: Millis) -> Res<Option<JobEvent>> {
    Ok(conn
        .prepare_cached(
            "SELECT job_id, rank, at FROM ( \
               SELECT job_id, :start AS rank, start_due AS at, seq FROM jobs \
                 WHERE status = 'SCHEDULED' AND start_due <= :now \
               UNION ALL SELECT job_id, :window, rollout_next_at, seq FROM jobs \
                 WHERE status = 'IN_PROGRESS' AND rollout_next_at <= :now \
               UNION ALL SELECT job_id, :end, end_due, seq FROM jobs \
                 WHERE status = 'IN_PROGRESS' AND end_due <= :now) \
             ORDER BY at, rank, seq LIMIT 1",
        )?
        .query_row(
            named_params! {
                ":now": now,
                ":start": JobEventKind::Start.rank(),
                ":window": JobEventKind::RolloutWindow.rank(),
                ":end": JobEventKind::End.rank(),
            },
            |r| {
                let rank: i64 = r.get("rank")?;
                Ok(JobEvent {
                    job_id: r.get("job_id")?,
                    kind: JobEventKind::from_rank(rank)
                        .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(1, rank))?,
                    at: r.get("at")?,
                })
            },
        )
        .optional()?)
}

fn apply_job_event(conn: &Connection, event: &JobEvent) -> Res<()> {
    match event.kind {
        JobEventKind::Start => rollout::start_scheduled(conn, &event.job_id, event.at),
        JobEventKind::RolloutWindow => rollout::roll_out(conn, &event.job_id, event.at),
        JobEventKind::End => rollout::end_scheduled(conn, &event.job_id, event.at),
    }
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
    rollout::after_end(
        conn,
        &due.job_id,
        &due.thing_name,
        due.execution_number,
        &ExecutionStatus::TimedOut,
        due.at,
    )?;
    executions::complete_if_done(conn, &due.job_id, due.at)
}

#[cfg(test)]
mod tests {
    use super::JobEventKind;

    #[test]
    fn job_event_kinds_rank_in_the_order_they_apply_at_one_time() {
        for kind in JobEventKind::ALL {
            assert_eq!(JobEventKind::from_rank(kind.rank()), Some(kind));
        }
        assert!(JobEventKind::Start.rank() < JobEventKind::RolloutWindow.rank());
        assert!(JobEventKind::RolloutWindow.rank() < JobEventKind::End.rank());
        assert_eq!(JobEventKind::from_rank(3), None);
    }
}
