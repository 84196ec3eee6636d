//! Things, thing groups (static and dynamic) and membership (`shared/reference/aws-iot-semantics.md`
//! sections 9 and 10), and the job executions that membership changes start or remove.

use std::collections::BTreeMap;

use models::ids::{Location, ThingGroupName, ThingName, ThingTypeName};
use models::query::Query;
use models::registry::{
    Attributes, CreateDynamicThingGroup, CreateThing, CreateThingGroup, Created, DynamicGroupQuery,
    GroupFilter, GroupNameAndArn, Thing, ThingFilter, ThingGroup, ThingGroupMetadata,
    ThingGroupProperties, ThingSummary, ThingTypeChange, UpdateDynamicThingGroup, UpdateThing,
    UpdateThingGroup, INDEX_NAME, MAX_GROUPS_PER_THING, QUERY_VERSION,
};
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::{timestamp, Millis};
use crate::db::{json_column, stored_name_error, Fail, Res};
use crate::jobs::{self, stored_id};
use crate::{index, paging, thing_types};

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
    let attributes = to_json(thing.attributes.as_map());
    let thing_type = thing.thing_type_name.as_ref().map(ThingTypeName::as_str);
    let existing: Option<(String, String, Option<String>)> = conn
        .prepare_cached("SELECT thing_id, attributes, thing_type FROM things WHERE name = ?1")?
        .query_row([thing.thing_name.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let thing_id =
        match existing {
            // Creating a thing again with the same configuration succeeds, as in AWS IoT.
            Some((thing_id, stored, stored_type))
                if stored == attributes && stored_type.as_deref() == thing_type =>
            {
                thing_id
            }
            Some(_) => {
                return Err(DomainError::AlreadyExists(format!(
                    "thing {:?} already exists with different attributes or thing type",
                    thing.thing_name.as_str()
                ))
                .into())
            }
            None => {
                if let Some(type_name) = &thing.thing_type_name {
                    thing_types::require_usable(conn, type_name, "thingTypeName")?;
                }
                conn.prepare_cached(
                "INSERT INTO things (name, thing_id, attributes, version, created_at, thing_type) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)",
            )?
            .execute(params![thing.thing_name.as_str(), id, attributes, now, thing_type])?;
                index::refresh_thing(conn, &thing.thing_name, now)?;
                id
            }
        };
    Ok(Created {
        arn: here.thing_arn(&thing.thing_name),
        name: thing.thing_name.into(),
        id: thing_id,
    })
}

fn to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

pub(crate) fn parse_attributes(text: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    json_column(text)
}

fn thing_type_column(value: Option<String>) -> rusqlite::Result<Option<ThingTypeName>> {
    value
        .map(|t| ThingTypeName::parse(t).map_err(stored_name_error))
        .transpose()
}

pub(crate) fn describe_thing(conn: &Connection, here: &Location, name: &ThingName) -> Res<Thing> {
    conn.prepare_cached(
        "SELECT thing_id, attributes, version, thing_type FROM things WHERE name = ?1",
    )?
    .query_row([name.as_str()], |r| {
        Ok(Thing {
            thing_name: name.clone(),
            thing_id: r.get(0)?,
            thing_arn: here.thing_arn(name),
            thing_type_name: thing_type_column(r.get(3)?)?,
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
    filter: ThingFilter,
    page: PageRequest,
) -> Res<Page<ThingSummary>> {
    let after = paging::after_seq("things", &page)?;
    let (attribute_path, attribute_value) = match &filter.attribute {
        Some((name, value)) => (Some(format!("$.\"{name}\"")), Some(value.clone())),
        None => (None, None),
    };
    let thing_type = filter.thing_type_name.as_ref().map(ThingTypeName::as_str);
    let rows = conn
        .prepare_cached(
            "SELECT seq, name, attributes, version, thing_type FROM things WHERE seq > ?1 \
             AND (?3 IS NULL OR thing_type = ?3) \
             AND (?4 IS NULL OR json_extract(attributes, ?4) = ?5) \
             ORDER BY seq LIMIT ?2",
        )?
        .query_map(
            params![
                after,
                paging::fetch_limit(&page),
                thing_type,
                attribute_path,
                attribute_value
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    parse_attributes(&r.get::<_, String>(2)?)?,
                    r.get(3)?,
                    thing_type_column(r.get(4)?)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, name, attributes, version, thing_type_name) in rows {
        let name = stored_id(ThingName::parse(name))?;
        items.push((
            seq.to_string(),
            ThingSummary {
                thing_arn: here.thing_arn(&name),
                thing_name: name,
                thing_type_name,
                attributes,
                version,
            },
        ));
    }
    Ok(paging::finish("things", &page, items))
}

/// Refuses a change when `expected` is given and differs from the stored version of the thing
/// (`table` "things") or thing group ("thing_groups") named `name`; a missing one passes.
fn require_version(conn: &Connection, table: &str, name: &str, expected: Option<i64>) -> Res<()> {
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

pub(crate) fn update_thing(
    conn: &Connection,
    name: &ThingName,
    update: UpdateThing,
    now: Millis,
) -> Res<()> {
    let (attributes, thing_type): (String, Option<String>) = conn
        .prepare_cached("SELECT attributes, thing_type FROM things WHERE name = ?1")?
        .query_row([name.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| thing_not_found(name))?;
    require_version(conn, "things", name.as_str(), update.expected_version)?;
    let new_type = match &update.thing_type {
        ThingTypeChange::Keep => thing_type,
        ThingTypeChange::Remove => None,
        ThingTypeChange::Set(type_name) => {
            if thing_type.as_deref() != Some(type_name.as_str()) {
                thing_types::require_usable(conn, type_name, "thingTypeName")?;
            }
            Some(type_name.as_str().to_owned())
        }
    };
    let current = parse_attributes(&attributes)?;
    let new_attributes = match &update.attributes {
        Some(given) => given.applied_to(&current, update.merge),
        None => current,
    };
    // What the thing would become conflicts with a limit: a 409, as AWS IoT's InvalidRequest is.
    let limit = if new_type.is_some() {
        Attributes::MAX
    } else {
        Attributes::MAX_WITHOUT_TYPE
    };
    if new_attributes.len() > limit {
        return Err(DomainError::Conflict(format!(
            "thing {:?} would have {} attributes; a thing {} has at most {limit}",
            name.as_str(),
            new_attributes.len(),
            if new_type.is_some() {
                "with a thing type"
            } else {
                "without a thing type"
            },
        ))
        .into());
    }
    conn.prepare_cached(
        "UPDATE things SET attributes = ?2, thing_type = ?3, version = version + 1 WHERE name = ?1",
    )?
    .execute(params![name.as_str(), to_json(&new_attributes), new_type])?;
    index::refresh_thing(conn, name, now)
}

/// Deleting a thing takes it out of its groups and REMOVES its QUEUED executions. Its shadows
/// stay: **[inferred]** AWS IoT keeps shadows apart from the registry.
pub(crate) fn delete_thing(
    conn: &Connection,
    name: &ThingName,
    expected_version: Option<i64>,
    now: Millis,
) -> Res<()> {
    require_version(conn, "things", name.as_str(), expected_version)?;
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

/// A group's id, parent, description, attributes and query (None for a static group).
type StoredGroup = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn stored_group(conn: &Connection, name: &str) -> Res<Option<StoredGroup>> {
    Ok(conn
        .prepare_cached(
            "SELECT group_id, parent_name, description, attributes, query FROM thing_groups WHERE name = ?1",
        )?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?)
}

fn is_dynamic(conn: &Connection, name: &str) -> Res<Option<bool>> {
    Ok(conn
        .prepare_cached("SELECT query IS NOT NULL FROM thing_groups WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

fn dynamic_group_conflict(name: &ThingGroupName, what: &str) -> Fail {
    DomainError::Conflict(format!(
        "thing group {:?} is dynamic: {what}",
        name.as_str()
    ))
    .into()
}

fn static_group_conflict(name: &ThingGroupName) -> Fail {
    DomainError::Conflict(format!(
        "thing group {:?} is static; use /thing-groups/{} for it",
        name.as_str(),
        name.as_str()
    ))
    .into()
}

/// A group to create: static (with its parent, if any) or dynamic (with its query).
struct NewGroup<'a> {
    name: &'a ThingGroupName,
    parent: Option<&'a str>,
    description: Option<&'a str>,
    attributes: String,
    query: Option<&'a str>,
}

impl NewGroup<'_> {
    fn created(&self, here: &Location, id: String) -> Created {
        Created {
            arn: here.thing_group_arn(self.name),
            name: self.name.as_str().to_owned(),
            id,
        }
    }

    /// The group, when one of this name exists with this very configuration: creating it again
    /// succeeds, as in AWS IoT. Another group of the name is a conflict.
    fn existing(&self, conn: &Connection, here: &Location) -> Res<Option<Created>> {
        let Some((group_id, parent, description, attributes, query)) =
            stored_group(conn, self.name.as_str())?
        else {
            return Ok(None);
        };
        if parent.as_deref() == self.parent
            && description.as_deref() == self.description
            && attributes == self.attributes
            && query.as_deref() == self.query
        {
            return Ok(Some(self.created(here, group_id)));
        }
        let what = if self.query.is_some() {
            "query"
        } else {
            "parent"
        };
        Err(DomainError::AlreadyExists(format!(
            "thing group {:?} already exists with a different {what}, description or attributes",
            self.name.as_str()
        ))
        .into())
    }

    fn insert(&self, conn: &Connection, here: &Location, id: String, now: Millis) -> Res<Created> {
        conn.prepare_cached(
            "INSERT INTO thing_groups (name, group_id, parent_name, description, version, created_at, attributes, query) \
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
        )?
        .execute(params![
            self.name.as_str(),
            id,
            self.parent,
            self.description,
            now,
            self.attributes,
            self.query
        ])?;
        Ok(self.created(here, id))
    }
}

pub(crate) fn create_group(
    conn: &Connection,
    here: &Location,
    group: CreateThingGroup,
    id: String,
    now: Millis,
) -> Res<Created> {
    let new = NewGroup {
        name: &group.thing_group_name,
        parent: group.parent_group_name.as_ref().map(ThingGroupName::as_str),
        description: group.thing_group_description.as_ref().map(|d| d.as_str()),
        attributes: to_json(group.attributes.as_map()),
        query: None,
    };
    if let Some(created) = new.existing(conn, here)? {
        return Ok(created);
    }
    if let Some(parent_name) = &group.parent_group_name {
        match is_dynamic(conn, parent_name.as_str())? {
            None => {
                return Err(DomainError::NotFound(format!(
                    "parentGroupName: thing group {:?} does not exist",
                    parent_name.as_str()
                ))
                .into())
            }
            Some(true) => {
                return Err(dynamic_group_conflict(
                    parent_name,
                    "dynamic groups cannot have child groups",
                ))
            }
            Some(false) => {}
        }
        if ancestors(conn, parent_name.as_str())?.len() + 2 > MAX_GROUP_DEPTH {
            return Err(DomainError::LimitExceeded(format!(
                "a thing group hierarchy is at most {MAX_GROUP_DEPTH} levels deep"
            ))
            .into());
        }
    }
    new.insert(conn, here, id, now)
}

pub(crate) fn describe_group(
    conn: &Connection,
    here: &Location,
    name: &ThingGroupName,
) -> Res<ThingGroup> {
    let mut group = conn
        .prepare_cached(
            "SELECT group_id, parent_name, description, version, created_at, attributes, query \
             FROM thing_groups WHERE name = ?1",
        )?
        .query_row([name.as_str()], |r| {
            Ok(ThingGroup {
                thing_group_name: name.clone(),
                thing_group_id: r.get(0)?,
                thing_group_arn: here.thing_group_arn(name),
                version: r.get(3)?,
                thing_group_properties: ThingGroupProperties {
                    thing_group_description: r.get(2)?,
                    attributes: parse_attributes(&r.get::<_, String>(5)?)?,
                },
                thing_group_metadata: ThingGroupMetadata {
                    parent_group_name: r
                        .get::<_, Option<String>>(1)?
                        .map(|p| ThingGroupName::parse(p).map_err(stored_name_error))
                        .transpose()?,
                    root_to_parent_thing_groups: Vec::new(),
                    creation_date: timestamp(r.get(4)?),
                },
                dynamic: r
                    .get::<_, Option<String>>(6)?
                    .map(|query_string| DynamicGroupQuery {
                        index_name: INDEX_NAME.into(),
                        query_string,
                        query_version: QUERY_VERSION.into(),
                        // Membership is kept current in the same transaction as every change.
                        status: "ACTIVE".into(),
                    }),
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

fn group_names_page(
    here: &Location,
    list: &str,
    page: &PageRequest,
    rows: Vec<(String, String)>,
) -> Res<Page<GroupNameAndArn>> {
    let mut items = Vec::with_capacity(rows.len());
    for (key, name) in rows {
        let group_name = stored_id(ThingGroupName::parse(name))?;
        items.push((
            key,
            GroupNameAndArn {
                group_arn: here.thing_group_arn(&group_name),
                group_name,
            },
        ));
    }
    Ok(paging::finish(list, page, items))
}

pub(crate) fn list_groups(
    conn: &Connection,
    here: &Location,
    filter: GroupFilter,
    page: PageRequest,
) -> Res<Page<GroupNameAndArn>> {
    let after = paging::after_seq("groups", &page)?;
    let parent = filter.parent_group.as_ref().map(ThingGroupName::as_str);
    if let Some(parent_name) = &filter.parent_group {
        if !group_exists(conn, parent_name)? {
            return Err(DomainError::NotFound(format!(
                "parentGroup: thing group {:?} does not exist",
                parent_name.as_str()
            ))
            .into());
        }
    }
    // Which groups: with a parent, its children (or, recursive, all its descendants); without,
    // every group (or, not recursive, the roots).
    let sql = format!(
        "{TREE} SELECT seq, name FROM thing_groups WHERE seq > ?2 \
         AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3) \
         AND CASE WHEN ?1 IS NULL THEN (?4 OR parent_name IS NULL) \
                  WHEN ?4 THEN name IN (SELECT name FROM tree) AND name <> ?1 \
                  ELSE parent_name = ?1 END \
         ORDER BY seq LIMIT ?5"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            params![
                parent,
                after,
                filter.name_prefix,
                filter.recursive,
                paging::fetch_limit(&page)
            ],
            |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    group_names_page(here, "groups", &page, rows)
}

pub(crate) fn list_groups_for_thing(
    conn: &Connection,
    here: &Location,
    thing: &ThingName,
    page: PageRequest,
) -> Res<Page<GroupNameAndArn>> {
    if !thing_exists(conn, thing)? {
        return Err(thing_not_found(thing));
    }
    let after = paging::after_key("thing-groups", &page)?.unwrap_or_default();
    let rows = conn
        .prepare_cached(
            "SELECT group_name, group_name FROM group_members WHERE thing_name = ?1 AND group_name > ?2 \
             ORDER BY group_name LIMIT ?3",
        )?
        .query_map(params![thing.as_str(), after, paging::fetch_limit(&page)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    group_names_page(here, "thing-groups", &page, rows)
}

/// Applies a description and attribute change to a group and returns its new version.
fn update_group_row(
    conn: &Connection,
    name: &ThingGroupName,
    update: &UpdateThingGroup,
    query: Option<&Query>,
) -> Res<i64> {
    let (_, _, description, attributes, _) =
        stored_group(conn, name.as_str())?.ok_or_else(|| group_not_found(name))?;
    require_version(conn, "thing_groups", name.as_str(), update.expected_version)?;
    let description = update
        .thing_group_description
        .as_ref()
        .map(|d| d.as_str().to_owned())
        .or(description);
    let current = parse_attributes(&attributes)?;
    let attributes = match &update.attributes {
        Some(given) => given.applied_to(&current, update.merge),
        None => current,
    };
    if attributes.len() > Attributes::MAX {
        return Err(DomainError::validation(
            "attributes",
            format!("a thing group has at most {} attributes", Attributes::MAX),
        )
        .into());
    }
    Ok(conn
        .prepare_cached(
            "UPDATE thing_groups SET description = ?2, attributes = ?3, query = coalesce(?4, query), \
             version = version + 1 WHERE name = ?1 RETURNING version",
        )?
        .query_row(
            params![
                name.as_str(),
                description,
                to_json(&attributes),
                query.map(Query::as_str)
            ],
            |r| r.get(0),
        )?)
}

pub(crate) fn update_group(
    conn: &Connection,
    name: &ThingGroupName,
    update: UpdateThingGroup,
) -> Res<i64> {
    update_group_row(conn, name, &update, None)
}

pub(crate) fn delete_group(
    conn: &Connection,
    name: &ThingGroupName,
    expected_version: Option<i64>,
) -> Res<()> {
    if is_dynamic(conn, name.as_str())? == Some(true) {
        return Err(dynamic_group_conflict(
            name,
            "delete it with DELETE /dynamic-thing-groups/{name}",
        ));
    }
    require_version(conn, "thing_groups", name.as_str(), expected_version)?;
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

pub(crate) fn create_dynamic_group(
    conn: &Connection,
    here: &Location,
    group: CreateDynamicThingGroup,
    id: String,
    now: Millis,
) -> Res<Created> {
    let new = NewGroup {
        name: &group.thing_group_name,
        parent: None,
        description: group.thing_group_description.as_ref().map(|d| d.as_str()),
        attributes: to_json(group.attributes.as_map()),
        query: Some(group.query.as_str()),
    };
    if let Some(created) = new.existing(conn, here)? {
        return Ok(created);
    }
    let created = new.insert(conn, here, id, now)?;
    index::refresh_group(conn, &group.thing_group_name, &group.query, now)?;
    Ok(created)
}

pub(crate) fn update_dynamic_group(
    conn: &Connection,
    name: &ThingGroupName,
    update: UpdateDynamicThingGroup,
    now: Millis,
) -> Res<i64> {
    match is_dynamic(conn, name.as_str())? {
        None => return Err(group_not_found(name)),
        Some(false) => return Err(static_group_conflict(name)),
        Some(true) => {}
    }
    let version = update_group_row(conn, name, &update.properties, update.query.as_ref())?;
    if let Some(query) = &update.query {
        index::refresh_group(conn, name, query, now)?;
    }
    Ok(version)
}

pub(crate) fn delete_dynamic_group(
    conn: &Connection,
    name: &ThingGroupName,
    expected_version: Option<i64>,
    now: Millis,
) -> Res<()> {
    match is_dynamic(conn, name.as_str())? {
        // Deleting a missing group succeeds, as DeleteDynamicThingGroup does.
        None => return Ok(()),
        Some(false) => return Err(static_group_conflict(name)),
        Some(true) => {}
    }
    require_version(conn, "thing_groups", name.as_str(), expected_version)?;
    let members: Vec<String> = conn
        .prepare_cached("SELECT thing_name FROM group_members WHERE group_name = ?1")?
        .query_map([name.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for member in members {
        left(conn, name, &stored_id(ThingName::parse(member))?, now)?;
    }
    conn.prepare_cached("DELETE FROM thing_groups WHERE name = ?1")?
        .execute([name.as_str()])?;
    Ok(())
}

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
        jobs::queue_execution(conn, &job_id, thing.as_str(), now)?;
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
            jobs::remove_queued_execution(conn, &job_id, thing.as_str(), now)?;
        }
    }
    Ok(())
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
