//! What a job targets: things and thing groups, resolved against the registry to canonical ARNs,
//! the things they reach (groups with all their descendants), and targets added to a running
//! CONTINUOUS job.

use models::ids::{JobId, Location, Target, ThingGroupName, ThingName};
use models::job::{JobStatus, TargetSelection, MAX_JOB_TARGETS};
use models::DomainError;
use rusqlite::{params, Connection};

use super::executions;
use crate::clock::Millis;
use crate::db::Res;
use crate::registry;

/// A target resolved against the registry: its canonical ARN and what it names.
pub(super) struct ResolvedTarget {
    arn: String,
    thing: Option<ThingName>,
    group: Option<ThingGroupName>,
}

pub(super) fn resolve(
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

pub(super) fn insert(
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
pub(super) fn things_reached(conn: &Connection, targets: &[ResolvedTarget]) -> Res<Vec<ThingName>> {
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

pub(crate) fn associate(
    conn: &Connection,
    here: &Location,
    job_id: &JobId,
    targets: Vec<Target>,
    comment: Option<String>,
    now: Millis,
) -> Res<()> {
    let (status, selection) = super::job_status(conn, job_id)?;
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
    let new: Vec<ResolvedTarget> = resolve(conn, here, &targets)?
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
    insert(conn, job_id, existing.len() as i64, &new)?;
    for thing in things_reached(conn, &new)? {
        executions::queue_execution(conn, job_id.as_str(), thing.as_str(), now)?;
    }
    conn.prepare_cached(
        "UPDATE jobs SET comment = COALESCE(?2, comment), last_updated_at = ?3 WHERE job_id = ?1",
    )?
    .execute(params![job_id.as_str(), comment, now])?;
    Ok(())
}
