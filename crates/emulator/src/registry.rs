//! Things, thing groups and membership (`shared/reference/aws-iot-semantics.md` sections 9 and
//! 10), and the job executions that membership changes start or remove.

use std::collections::BTreeMap;

use models::ids::{Location, ThingGroupName, ThingName};
use models::registry::{
    CreateThing, CreateThingGroup, Created, GroupNameAndArn, Thing, ThingGroup, ThingGroupMetadata,
    ThingGroupProperties, ThingSummary, MAX_GROUPS_PER_THING,
};
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::{timestamp, Millis};
use crate::db::{Fail, Res};
use crate::jobs::{self, stored_id};
use crate::paging;

/// Deepest thing group hierarchy AWS IoT allows.
const MAX_GROUP_DEPTH: usize = 7;

pub(crate) fn thing_not_found(name: &ThingName) -> Fail {
    DomainError::NotFound(format!("thing {:?} does not exist", name.as_str())).into()
}

fn group_not_found(name: &ThingGroupName) -> Fail {
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
const TREE: &str =
    "WITH RECURSIVE tree(name) AS (SELECT ?1 UNION SELECT g.name FROM thing_groups g \
                    JOIN tree t ON g.parent_name = t.name)";

/// A group and all its ancestors' names.
const ANCESTRY: &str =
    "WITH RECURSIVE up(name) AS (SELECT ?1 UNION SELECT g.parent_name FROM thing_groups g \
                        JOIN up u ON g.name = u.name WHERE g.parent_name IS NOT NULL)";

/// The things in a group and in all its descendant groups.
pub(crate) fn things_in_tree(conn: &Connection, group: &ThingGroupName) -> Res<Vec<ThingName>> {
    let sql = format!(
        "{TREE} SELECT DISTINCT m.thing_name FROM group_members m JOIN tree t ON m.group_name = t.name \
         ORDER BY m.thing_name"
    );
    let names = conn
        .prepare_cached(&sql)?
        .query_map([group.as_str()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    names
        .into_iter()
        .map(|n| stored_id(ThingName::parse(n)))
        .collect()
}

/// A group's ancestors, root first (the group itself excluded).
fn ancestors(conn: &Connection, group: &str) -> Res<Vec<String>> {
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

pub(crate) fn create_thing(
    conn: &Connection,
    here: &Location,
    thing: CreateThing,
    id: String,
    now: Millis,
) -> Res<Created> {
    let attributes = serde_json::to_string(thing.attributes.as_map()).unwrap_or_default();
    let existing: Option<(String, String)> = conn
        .prepare_cached("SELECT thing_id, attributes FROM things WHERE name = ?1")?
        .query_row([thing.thing_name.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let thing_id = match existing {
        // Creating a thing again with the same configuration succeeds, as in AWS IoT.
        Some((thing_id, stored)) if stored == attributes => thing_id,
        Some(_) => {
            return Err(DomainError::AlreadyExists(format!(
                "thing {:?} already exists with different attributes",
                thing.thing_name.as_str()
            ))
            .into())
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO things (name, thing_id, attributes, version, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
            )?
            .execute(params![thing.thing_name.as_str(), id, attributes, now])?;
            id
        }
    };
    Ok(Created {
        arn: here.thing_arn(&thing.thing_name),
        name: thing.thing_name.into(),
        id: thing_id,
    })
}

fn parse_attributes(text: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn describe_thing(conn: &Connection, here: &Location, name: &ThingName) -> Res<Thing> {
    conn.prepare_cached("SELECT thing_id, attributes, version FROM things WHERE name = ?1")?
        .query_row([name.as_str()], |r| {
            Ok(Thing {
                thing_name: name.clone(),
                thing_id: r.get(0)?,
                thing_arn: here.thing_arn(name),
                attributes: parse_attributes(&r.get::<_, String>(1)?)?,
                version: r.get(2)?,
            })
        })
        .optional()?
        .ok_or_else(|| thing_not_found(name))
}

pub(crate) fn list_things(
    conn: &Connection,
    here: &Location,
    page: PageRequest,
) -> Res<Page<ThingSummary>> {
    let after = paging::after_seq("things", &page)?;
    let rows = conn
        .prepare_cached("SELECT seq, name, attributes, version FROM things WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
        .query_map(params![after, paging::fetch_limit(&page)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, parse_attributes(&r.get::<_, String>(2)?)?, r.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, name, attributes, version) in rows {
        let name = stored_id(ThingName::parse(name))?;
        items.push((
            seq.to_string(),
            ThingSummary {
                thing_arn: here.thing_arn(&name),
                thing_name: name,
                attributes,
                version,
            },
        ));
    }
    Ok(paging::finish("things", &page, items))
}

/// Deleting a thing takes it out of its groups and REMOVES its QUEUED executions.
pub(crate) fn delete_thing(conn: &Connection, name: &ThingName, now: Millis) -> Res<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM things WHERE name = ?1")?
        .execute([name.as_str()])?;
    if deleted == 0 {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM group_members WHERE thing_name = ?1")?
        .execute([name.as_str()])?;
    let queued = conn
        .prepare_cached("SELECT job_id FROM job_executions WHERE thing_name = ?1 AND latest = 1 AND status = 'QUEUED'")?
        .query_map([name.as_str()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    for job_id in queued {
        jobs::remove_queued_execution(conn, &job_id, name.as_str(), now)?;
    }
    Ok(())
}

pub(crate) fn create_group(
    conn: &Connection,
    here: &Location,
    group: CreateThingGroup,
    id: String,
    now: Millis,
) -> Res<Created> {
    let name = group.thing_group_name.as_str();
    let parent = group.parent_group_name.as_ref().map(ThingGroupName::as_str);
    let description = group.thing_group_description.as_ref().map(|d| d.as_str());
    let existing: Option<(String, Option<String>, Option<String>)> = conn
        .prepare_cached(
            "SELECT group_id, parent_name, description FROM thing_groups WHERE name = ?1",
        )?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let created = |group_id: String| Created {
        arn: here.thing_group_arn(&group.thing_group_name),
        name: name.to_owned(),
        id: group_id,
    };
    if let Some((group_id, stored_parent, stored_description)) = existing {
        // The same group created again succeeds, as in AWS IoT.
        if stored_parent.as_deref() == parent && stored_description.as_deref() == description {
            return Ok(created(group_id));
        }
        return Err(DomainError::AlreadyExists(format!(
            "thing group {name:?} already exists with a different parent or description"
        ))
        .into());
    }
    if let Some(parent_name) = &group.parent_group_name {
        if !group_exists(conn, parent_name)? {
            return Err(DomainError::NotFound(format!(
                "parentGroupName: thing group {:?} does not exist",
                parent_name.as_str()
            ))
            .into());
        }
        if ancestors(conn, parent_name.as_str())?.len() + 2 > MAX_GROUP_DEPTH {
            return Err(DomainError::LimitExceeded(format!(
                "a thing group hierarchy is at most {MAX_GROUP_DEPTH} levels deep"
            ))
            .into());
        }
    }
    conn.prepare_cached(
        "INSERT INTO thing_groups (name, group_id, parent_name, description, version, created_at) \
         VALUES (?1, ?2, ?3, ?4, 1, ?5)",
    )?
    .execute(params![name, id, parent, description, now])?;
    Ok(created(id))
}

pub(crate) fn describe_group(
    conn: &Connection,
    here: &Location,
    name: &ThingGroupName,
) -> Res<ThingGroup> {
    let mut group = conn
        .prepare_cached(
            "SELECT group_id, parent_name, description, version, created_at FROM thing_groups WHERE name = ?1",
        )?
        .query_row([name.as_str()], |r| {
            Ok(ThingGroup {
                thing_group_name: name.clone(),
                thing_group_id: r.get(0)?,
                thing_group_arn: here.thing_group_arn(name),
                version: r.get(3)?,
                thing_group_properties: ThingGroupProperties { thing_group_description: r.get(2)? },
                thing_group_metadata: ThingGroupMetadata {
                    parent_group_name: r
                        .get::<_, Option<String>>(1)?
                        .map(|p| ThingGroupName::parse(p).map_err(stored_name_error))
                        .transpose()?,
                    root_to_parent_thing_groups: Vec::new(),
                    creation_date: timestamp(r.get(4)?),
                },
            })
        })
        .optional()?
        .ok_or_else(|| group_not_found(name))?;
    for ancestor in ancestors(conn, name.as_str())? {
        let group_name = stored_id(ThingGroupName::parse(ancestor))?;
        group
            .thing_group_metadata
            .root_to_parent_thing_groups
            .push(GroupNameAndArn {
                group_arn: here.thing_group_arn(&group_name),
                group_name,
            });
    }
    Ok(group)
}

/// A stored name that no longer parses, reported as a row conversion failure.
fn stored_name_error(e: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
}

pub(crate) fn list_groups(
    conn: &Connection,
    here: &Location,
    name_prefix: Option<String>,
    page: PageRequest,
) -> Res<Page<GroupNameAndArn>> {
    let after = paging::after_seq("groups", &page)?;
    let rows = conn
        .prepare_cached(
            "SELECT seq, name FROM thing_groups WHERE seq > ?1 AND (?2 IS NULL OR substr(name, 1, length(?2)) = ?2) \
             ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![after, name_prefix, paging::fetch_limit(&page)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, name) in rows {
        let group_name = stored_id(ThingGroupName::parse(name))?;
        items.push((
            seq.to_string(),
            GroupNameAndArn {
                group_arn: here.thing_group_arn(&group_name),
                group_name,
            },
        ));
    }
    Ok(paging::finish("groups", &page, items))
}

pub(crate) fn delete_group(conn: &Connection, name: &ThingGroupName) -> Res<()> {
    let has_children: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM thing_groups WHERE parent_name = ?1)")?
        .query_row([name.as_str()], |r| r.get(0))?;
    if has_children {
        return Err(DomainError::Conflict(format!(
            "thing group {:?} still has child groups; delete them first",
            name.as_str()
        ))
        .into());
    }
    conn.prepare_cached("DELETE FROM group_members WHERE group_name = ?1")?
        .execute([name.as_str()])?;
    conn.prepare_cached("DELETE FROM thing_groups WHERE name = ?1")?
        .execute([name.as_str()])?;
    Ok(())
}

fn require_thing_and_group(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
) -> Res<()> {
    if !group_exists(conn, group)? {
        return Err(group_not_found(group));
    }
    if !thing_exists(conn, thing)? {
        return Err(thing_not_found(thing));
    }
    Ok(())
}

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

pub(crate) fn add_member(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
    now: Millis,
) -> Res<()> {
    require_thing_and_group(conn, group, thing)?;
    let groups: Vec<String> = conn
        .prepare_cached("SELECT group_name FROM group_members WHERE thing_name = ?1")?
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
    conn.prepare_cached("INSERT INTO group_members (group_name, thing_name) VALUES (?1, ?2)")?
        .execute([group.as_str(), thing.as_str()])?;
    for job_id in jobs_targeting_ancestry(conn, group, true)? {
        jobs::queue_execution(conn, &job_id, thing.as_str(), now)?;
    }
    Ok(())
}

pub(crate) fn remove_member(
    conn: &Connection,
    group: &ThingGroupName,
    thing: &ThingName,
    now: Millis,
) -> Res<()> {
    require_thing_and_group(conn, group, thing)?;
    let removed = conn
        .prepare_cached("DELETE FROM group_members WHERE group_name = ?1 AND thing_name = ?2")?
        .execute([group.as_str(), thing.as_str()])?;
    // **[inferred]** Removing a thing that is not in the group succeeds and changes nothing.
    if removed == 0 {
        return Ok(());
    }
    for job_id in jobs_targeting_ancestry(conn, group, false)? {
        if !still_targeted(conn, &job_id, thing)? {
            jobs::remove_queued_execution(conn, &job_id, thing.as_str(), now)?;
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
        items.push((name.clone(), stored_id(ThingName::parse(name))?));
    }
    Ok(paging::finish("members", &page, items))
}
