//! Thing groups: static ones in a hierarchy (at most `MAX_GROUP_DEPTH` deep), and dynamic ones
//! whose members are the things matching their fleet-index query (kept by `index`).

use models::ids::{Location, ThingGroupName, ThingName};
use models::query::Query;
use models::registry::{
    Attributes, CreateDynamicThingGroup, CreateThingGroup, Created, DynamicGroupQuery, GroupFilter,
    GroupNameAndArn, ThingGroup, ThingGroupMetadata, ThingGroupProperties, UpdateDynamicThingGroup,
    UpdateThingGroup, INDEX_NAME, QUERY_VERSION,
};
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension};

use super::{
    ancestors, dynamic_group_conflict, group_exists, group_not_found, is_dynamic, reach,
    require_version, thing_exists, thing_not_found, TREE,
};
use crate::clock::{timestamp, Millis};
use crate::db::{Fail, Res};
use crate::{index, paging, rows};

/// Deepest thing group hierarchy AWS IoT allows.
const MAX_GROUP_DEPTH: usize = 7;

/// A row of `thing_groups` as a change reads it first; `query` is None for a static group.
struct StoredGroup {
    group_id: String,
    parent_name: Option<String>,
    description: Option<String>,
    /// As stored: JSON text, compared as such with what a create would store.
    attributes: String,
    query: Option<String>,
}

fn stored_group(conn: &Connection, name: &str) -> Res<Option<StoredGroup>> {
    Ok(conn
        .prepare_cached(
            "SELECT group_id, parent_name, description, attributes, query FROM thing_groups WHERE name = ?1",
        )?
        .query_row([name], |r| {
            Ok(StoredGroup {
                group_id: r.get("group_id")?,
                parent_name: r.get("parent_name")?,
                description: r.get("description")?,
                attributes: r.get("attributes")?,
                query: r.get("query")?,
            })
        })
        .optional()?)
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
        let Some(stored) = stored_group(conn, self.name.as_str())? else {
            return Ok(None);
        };
        if stored.parent_name.as_deref() == self.parent
            && stored.description.as_deref() == self.description
            && stored.attributes == self.attributes
            && stored.query.as_deref() == self.query
        {
            return Ok(Some(self.created(here, stored.group_id)));
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
        attributes: rows::to_json(group.attributes.as_map())?,
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
                thing_group_id: r.get("group_id")?,
                thing_group_arn: here.thing_group_arn(name),
                version: r.get("version")?,
                thing_group_properties: ThingGroupProperties {
                    thing_group_description: r.get("description")?,
                    attributes: rows::json(r, "attributes")?,
                },
                thing_group_metadata: ThingGroupMetadata {
                    parent_group_name: rows::text_opt(r, "parent_name")?,
                    root_to_parent_thing_groups: Vec::new(),
                    creation_date: timestamp(r.get("created_at")?),
                },
                dynamic: r.get::<_, Option<String>>("query")?.map(|query_string| {
                    DynamicGroupQuery {
                        index_name: INDEX_NAME.into(),
                        query_string,
                        query_version: QUERY_VERSION.into(),
                        // Membership is kept current in the same transaction as every change.
                        status: "ACTIVE".into(),
                    }
                }),
            })
        })
        .optional()?
        .ok_or_else(|| group_not_found(name))?;
    for ancestor in ancestors(conn, name.as_str())? {
        let group_name: ThingGroupName = rows::stored(ancestor)?;
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
        let group_name: ThingGroupName = rows::stored(name)?;
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
    let stored = stored_group(conn, name.as_str())?.ok_or_else(|| group_not_found(name))?;
    require_version(conn, "thing_groups", name.as_str(), update.expected_version)?;
    let description = update
        .thing_group_description
        .as_ref()
        .map(|d| d.as_str().to_owned())
        .or(stored.description);
    let current = rows::from_json(&stored.attributes)?;
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
                rows::to_json(&attributes)?,
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
        attributes: rows::to_json(group.attributes.as_map())?,
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
        reach::left(conn, name, &rows::stored(member)?, now)?;
    }
    conn.prepare_cached("DELETE FROM thing_groups WHERE name = ?1")?
        .execute([name.as_str()])?;
    Ok(())
}
