//! What time and outcomes do to a job: rollout windows that queue executions at the job's rate,
//! scheduled starts and ends, retries of failed or timed-out executions, and the abort criteria
//! that cancel a job whose failures cross a threshold. `timers` says when each is due.

use models::fields::{
    AbortConfig, JobEndBehavior, ReasonCode, RetryConfig, RolloutConfig, SchedulingConfig, Text,
};
use models::job::{CancelJob, ExecutionStatus, JobStatus};
use rusqlite::{params, Connection};

use super::{executions, MINUTE};
use crate::clock::Millis;
use crate::db::Res;
use crate::rows;

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
    let (job_status, retry, abort): (JobStatus, Option<RetryConfig>, Option<AbortConfig>) = conn
        .prepare_cached("SELECT status, retry_config, abort_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| {
            Ok((
                rows::text(r, "status")?,
                rows::json_opt(r, "retry_config")?,
                rows::json_opt(r, "abort_config")?,
            ))
        })?;
    if job_status != JobStatus::InProgress {
        return Ok(());
    }
    let retryable = matches!(status, ExecutionStatus::Failed | ExecutionStatus::TimedOut);
    if let Some(retry) = retry.filter(|_| retryable) {
        let attempt: i64 = conn
            .prepare_cached(
                "SELECT retry_attempt FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
            )?
            .query_row(params![job_id, thing, execution_number], |r| r.get(0))?;
        if attempt < retry.retries_for(status.as_str()) {
            executions::queue_next_execution(conn, job_id, thing, at, attempt + 1)?;
        }
    }
    if let Some(abort) = abort {
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
            "SELECT status, count FROM job_execution_counts WHERE job_id = ?1 \
             AND status IN ('SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT')",
        )?
        .query_map([job_id], |r| Ok((r.get("status")?, r.get("count")?)))?
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
            let job_id = rows::stored(job_id.to_owned())?;
            return super::cancel(
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
    let (config, mut rate, mut mark): (Option<RolloutConfig>, Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT rollout_config, rollout_rate, rollout_mark FROM jobs WHERE job_id = ?1",
        )?
        .query_row([job_id], |r| {
            Ok((
                rows::json_opt(r, "rollout_config")?,
                r.get("rollout_rate")?,
                r.get("rollout_mark")?,
            ))
        })?;
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
                        conn.prepare_cached("SELECT COALESCE(SUM(count), 0) FROM job_execution_counts WHERE job_id = ?1")?
                            .query_row([job_id], |r| r.get::<_, i64>(0))?,
                        n,
                    ),
                    (None, n) => (
                        conn.prepare_cached(
                            "SELECT COALESCE(SUM(count), 0) FROM job_execution_counts WHERE job_id = ?1 AND status = 'SUCCEEDED'",
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
        executions::insert_queued(conn, job_id, thing, at)?;
        conn.prepare_cached("DELETE FROM rollout_pending WHERE job_id = ?1 AND thing_name = ?2")?
            .execute([job_id, thing.as_str()])?;
    }
    conn.prepare_cached(
        "UPDATE jobs SET rollout_rate = ?2, rollout_mark = ?3, rollout_next_at = \
         CASE WHEN EXISTS (SELECT 1 FROM rollout_pending WHERE job_id = ?1) THEN ?4 END WHERE job_id = ?1",
    )?
    .execute(params![job_id, rate, mark, at + MINUTE])?;
    executions::complete_if_done(conn, job_id, at)
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
    let schedule: Option<SchedulingConfig> = conn
        .prepare_cached("SELECT scheduling_config FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| rows::json_opt(r, "scheduling_config"))?;
    let behavior = schedule
        .and_then(|s| s.end_behavior)
        .unwrap_or(JobEndBehavior::StopRollout);
    conn.prepare_cached("DELETE FROM rollout_pending WHERE job_id = ?1")?
        .execute([job_id])?;
    conn.prepare_cached(
        "UPDATE jobs SET end_due = NULL, rollout_next_at = NULL, last_updated_at = ?2 WHERE job_id = ?1",
    )?
    .execute(params![job_id, at])?;
    if behavior == JobEndBehavior::StopRollout {
        return executions::complete_if_done(conn, job_id, at);
    }
    super::cancel(
        conn,
        CancelJob {
            job_id: rows::stored(job_id.to_owned())?,
            comment: Text::try_from("the job's scheduled end time came".to_owned()).ok(),
            reason_code: None,
            force: behavior == JobEndBehavior::ForceCancel,
        },
        at,
    )
}
