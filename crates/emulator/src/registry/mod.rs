//! The registry: things (`things`), thing groups static and dynamic (`groups`), static membership
//! (`membership`), and `reach`, the one place where a registry change reaches jobs: a thing
//! joining or leaving a group queues or removes executions (README, Behaviour). Here: what the other parts look up:
//! whether a thing or group exists, a group's tree and ancestry.

pub(crate) mod groups;
pub(crate) mod membership;
pub(crate) mod reach;
pub(crate) mod things;

use models::ids::{ThingGroupName, ThingName};
use models::DomainError;
use rusqlite::{Connection, OptionalExtension};

use crate::db::{Fail, Res};
use crate::rows;

pub(crate) fn thing_not_found(name: &ThingName) -> Fail {
    DomainError::NotFound(format!("thing {:?} does not exist", name.as_str())).into()
}

pub(super) fn group_not_found(name: &ThingGroupName) -> Fail {
    DomainError::NotFound(format!("thing group {:?} does not exist", name.as_str())).into()
}

pub(crate) fn thing_exists(conn: &Connection, name: &ThingName) -> Res<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM things WHERE name = ?1)")?
        .query_row([name.as_str()], |r| r.get(0))?)
}

pub(crate) fn group_exists(conn: &Connection, name: &ThingGroupName) -> Res<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM thing_groups WHERE name = ?1)")?
        .query_row([name.as_str()], |r| r.get(0))?)
}

/// A group and all its descendants' names.
pub(super) const TREE: &str =
    "WITH RECURSIVE tree(name) AS (SELECT ?1 UNION SELECT g.name FROM thing_groups g \
                    JOIN tree t ON g.parent_name = t.name)";

/// A group and all its ancestors' names.
pub(super) const ANCESTRY: &str =
    "WITH RECURSIVE up(name) AS (SELECT ?1 UNION SELECT g.parent_name FROM thing_groups g \
                        JOIN up u ON g.name = u.name WHERE g.parent_name IS NOT NULL)";

/// The things in a group and in all its descendant groups.
pub(crate) fn things_in_tree(conn: &Connection, group: &ThingGroupName) -> Res<Vec<ThingName>> {
    let sql = format!(
        "{TREE} SELECT DISTINCT m.thing_name FROM group_members m JOIN tree t ON m.group_name = t.name \
         ORDER BY m.thing_name"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map([group.as_str()], |r| rows::text(r, "thing_name"))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// A group's ancestors, root first (the group itself excluded).
pub(super) fn ancestors(conn: &Connection, group: &str) -> Res<Vec<String>> {
    let mut chain = Vec::new();
    let mut current = group.to_owned();
    while let Some(parent) = conn
        .prepare_cached("SELECT parent_name FROM thing_groups WHERE name = ?1")?
        .query_row([&current], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten()
    {
        chain.push(parent.clone());
        current = parent;
    }
    chain.reverse();
    Ok(chain)
}

/// Refuses a change when `expected` is given and differs from the stored version of the thing
/// (`table` "things") or thing group ("thing_groups") named `name`; a missing one passes.
pub(super) fn require_version(
    conn: &Connection,
    table: &str,
    name: &str,
    expected: Option<i64>,
) -> Res<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let version: Option<i64> = conn
        .prepare_cached(&format!("SELECT version FROM {table} WHERE name = ?1"))?
        .query_row([name], |r| r.get(0))
        .optional()?;
    match version {
        Some(version) if version != expected => {
            let what = if table == "things" {
                "thing"
            } else {
                "thing group"
            };
            Err(DomainError::VersionConflict(format!(
                "expectedVersion {expected} does not match {what} {name:?}'s version {version}"
            ))
            .into())
        }
        _ => Ok(()),
    }
}

/// Whether the group named is dynamic; None when there is no such group.
pub(super) fn is_dynamic(conn: &Connection, name: &str) -> Res<Option<bool>> {
    Ok(conn
        .prepare_cached("SELECT query IS NOT NULL FROM thing_groups WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub(super) fn dynamic_group_conflict(name: &ThingGroupName, what: &str) -> Fail {
    DomainError::Conflict(format!(
        "thing group {:?} is dynamic: {what}",
        name.as_str()
    ))
    .into()
}
