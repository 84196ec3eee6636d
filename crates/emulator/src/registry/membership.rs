//! Static group membership: adding and removing a thing (each reaching jobs through `reach`, and
//! dynamic groups through `index`), and listing a group's members.

use models::ids::{ThingGroupName, ThingName};
use models::registry::MAX_GROUPS_PER_THING;
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection};

use super::reach::{joined, left};
use super::{
    ancestors, dynamic_group_conflict, group_exists, group_not_found, is_dynamic, thing_exists,
    thing_not_found, TREE,
};
use crate::clock::Millis;
use crate::db::Res;
use crate::{index, paging, rows};

/// What adding or removing a member needs: the thing, and a static group (a dynamic group's
/// members follow its query).
fn require_thing_and_static_group(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
) -> Res<()> {
    match is_dynamic(conn, group.as_str())? {
        None => return Err(group_not_found(group)),
        Some(true) => {
            return Err(dynamic_group_conflict(
                group,
                "its members follow its query",
            ))
        }
        Some(false) => {}
    }
    if !thing_exists(conn, thing)? {
        return Err(thing_not_found(thing));
    }
    Ok(())
}

pub(crate) fn add_member(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
    now: Millis,
) -> Res<()> {
    require_thing_and_static_group(conn, group, thing)?;
    // The static groups the thing is in: only these count towards the limit and hierarchies.
    let groups: Vec<String> = conn
        .prepare_cached(
            "SELECT m.group_name FROM group_members m JOIN thing_groups g ON g.name = m.group_name \
             WHERE m.thing_name = ?1 AND g.query IS NULL",
        )?
        .query_map([thing.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if groups.iter().any(|g| g == group.as_str()) {
        return Ok(());
    }
    if groups.len() >= MAX_GROUPS_PER_THING {
        return Err(DomainError::LimitExceeded(format!(
            "thing {:?} is already in {MAX_GROUPS_PER_THING} thing groups, the most it may join",
            thing.as_str()
        ))
        .into());
    }
    // **[inferred]** A thing may not be in two groups of one hierarchy: AWS refuses it with
    // InvalidRequestException; here it is a conflict with the thing's memberships (409).
    let new_ancestry = ancestors(conn, group.as_str())?;
    for other in &groups {
        if new_ancestry.contains(other)
            || ancestors(conn, other)?.iter().any(|a| a == group.as_str())
        {
            return Err(DomainError::Conflict(format!(
                "thing {:?} is already in thing group {other:?} of the same hierarchy",
                thing.as_str()
            ))
            .into());
        }
    }
    joined(conn, group, thing, now)?;
    // A dynamic group may select on thingGroupNames.
    index::refresh_thing(conn, thing, now)
}

pub(crate) fn remove_member(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
    now: Millis,
) -> Res<()> {
    require_thing_and_static_group(conn, group, thing)?;
    let member: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM group_members WHERE group_name = ?1 AND thing_name = ?2)",
        )?
        .query_row([group.as_str(), thing.as_str()], |r| r.get(0))?;
    // **[inferred]** Removing a thing that is not in the group succeeds and changes nothing.
    if !member {
        return Ok(());
    }
    left(conn, group, thing, now)?;
    index::refresh_thing(conn, thing, now)
}

pub(crate) fn list_members(
    conn: &Connection,
    group: &ThingGroupName,
    recursive: bool,
    page: PageRequest,
) -> Res<Page<ThingName>> {
    if !group_exists(conn, group)? {
        return Err(group_not_found(group));
    }
    let after = paging::after_key("members", &page)?.unwrap_or_default();
    let sql = format!(
        "{TREE} SELECT DISTINCT m.thing_name FROM group_members m \
         WHERE (m.group_name = ?1 OR (?2 AND m.group_name IN (SELECT name FROM tree))) AND m.thing_name > ?3 \
         ORDER BY m.thing_name LIMIT ?4"
    );
    let names = conn
        .prepare_cached(&sql)?
        .query_map(
            params![group.as_str(), recursive, after, paging::fetch_limit(&page)],
            |r| r.get::<_, String>(0),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(names.len());
    for name in names {
        items.push((name.clone(), rows::stored(name)?));
    }
    Ok(paging::finish("members", &page, items))
}
