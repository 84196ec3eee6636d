//! Where a registry change reaches jobs, as the domain has it: a thing that joins a group becomes
//! a target of the CONTINUOUS jobs targeting the group or one of its ancestors, and a thing that
//! leaves a group (or is deleted) has the QUEUED executions of the jobs that no longer reach it
//! REMOVED. Static membership (`membership`), dynamic membership (`index`) and deletes (`things`)
//! all come through here.

use models::ids::{ThingGroupName, ThingName};
use rusqlite::{params, Connection};

use super::ANCESTRY;
use crate::clock::Millis;
use crate::db::Res;
use crate::jobs::executions;

/// The jobs a group's membership feeds: those targeting the group or one of its ancestors.
fn jobs_targeting_ancestry(
    conn: &Connection,
    group: &ThingGroupName,
    only_active_continuous: bool,
) -> Res<Vec<String>> {
    let sql = format!(
        "{ANCESTRY} SELECT DISTINCT j.job_id FROM jobs j JOIN job_targets t ON t.job_id = j.job_id \
         WHERE t.group_name IN (SELECT name FROM up) \
         AND (?2 = 0 OR (j.target_selection = 'CONTINUOUS' AND j.status = 'IN_PROGRESS'))"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![group.as_str(), only_active_continuous], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Records a membership and queues the executions of the CONTINUOUS jobs it makes the thing a
/// target of.
pub(crate) fn joined(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
    now: Millis,
) -> Res<()> {
    conn.prepare_cached("INSERT INTO group_members (group_name, thing_name) VALUES (?1, ?2)")?
        .execute([group.as_str(), thing.as_str()])?;
    for job_id in jobs_targeting_ancestry(conn, group, true)? {
        executions::queue_execution(conn, &job_id, thing.as_str(), now)?;
    }
    Ok(())
}

/// Ends a membership and REMOVES the QUEUED executions of the jobs that no longer reach the thing.
pub(crate) fn left(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
    now: Millis,
) -> Res<()> {
    conn.prepare_cached("DELETE FROM group_members WHERE group_name = ?1 AND thing_name = ?2")?
        .execute([group.as_str(), thing.as_str()])?;
    for job_id in jobs_targeting_ancestry(conn, group, false)? {
        if !still_targeted(conn, &job_id, thing)? {
            executions::remove_queued_execution(conn, &job_id, thing.as_str(), now)?;
        }
    }
    Ok(())
}

/// Whether a job still reaches a thing, directly or through any group the thing is still in.
fn still_targeted(conn: &Connection, job_id: &str, thing: &ThingName) -> Res<bool> {
    let sql = "WITH RECURSIVE up(name) AS (SELECT group_name FROM group_members WHERE thing_name = ?2 \
               UNION SELECT g.parent_name FROM thing_groups g JOIN up u ON g.name = u.name WHERE g.parent_name IS NOT NULL) \
               SELECT EXISTS (SELECT 1 FROM job_targets WHERE job_id = ?1 \
               AND (thing_name = ?2 OR group_name IN (SELECT name FROM up)))";
    Ok(conn
        .prepare_cached(sql)?
        .query_row([job_id, thing.as_str()], |r| r.get(0))?)
}

/// A deleted thing leaves its groups, and its QUEUED executions are REMOVED.
pub(crate) fn thing_deleted(conn: &Connection, thing: &ThingName, now: Millis) -> Res<()> {
    conn.prepare_cached("DELETE FROM group_members WHERE thing_name = ?1")?
        .execute([thing.as_str()])?;
    let queued = conn
        .prepare_cached(
            "SELECT job_id FROM job_executions WHERE thing_name = ?1 AND latest = 1 AND status = 'QUEUED'",
        )?
        .query_map([thing.as_str()], |r| r.get::<_, String>("job_id"))?
        .collect::<Result<Vec<_>, _>>()?;
    for job_id in queued {
        executions::remove_queued_execution(conn, &job_id, thing.as_str(), now)?;
    }
    Ok(())
}
