//! Things: create, describe, list, update (attributes merged or replaced, the thing type set or
//! removed) and delete, which ends the thing's memberships.

use models::ids::{Location, ThingName, ThingTypeName};
use models::registry::{
    Attributes, CreateThing, Created, Thing, ThingFilter, ThingSummary, ThingTypeChange,
    UpdateThing,
};
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension};

use super::{reach, require_version, thing_not_found};
use crate::clock::Millis;
use crate::db::Res;
use crate::{index, paging, rows, thing_types};

pub(crate) fn create_thing(
    conn: &Connection,
    here: &Location,
    thing: CreateThing,
    id: String,
    now: Millis,
) -> Res<Created> {
    let attributes = rows::to_json(thing.attributes.as_map())?;
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

pub(crate) fn describe_thing(conn: &Connection, here: &Location, name: &ThingName) -> Res<Thing> {
    conn.prepare_cached(
        "SELECT thing_id, attributes, version, thing_type FROM things WHERE name = ?1",
    )?
    .query_row([name.as_str()], |r| {
        Ok(Thing {
            thing_name: name.clone(),
            thing_id: r.get("thing_id")?,
            thing_arn: here.thing_arn(name),
            thing_type_name: rows::text_opt(r, "thing_type")?,
            attributes: rows::json(r, "attributes")?,
            version: r.get("version")?,
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
                    r.get::<_, i64>("seq")?,
                    rows::text::<ThingName>(r, "name")?,
                    rows::json(r, "attributes")?,
                    r.get("version")?,
                    rows::text_opt(r, "thing_type")?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, name, attributes, version, thing_type_name) in rows {
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
    let current = rows::from_json(&attributes)?;
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
    .execute(params![
        name.as_str(),
        rows::to_json(&new_attributes)?,
        new_type
    ])?;
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
    index::forget_thing(conn, name)?;
    let deleted = conn
        .prepare_cached("DELETE FROM things WHERE name = ?1")?
        .execute([name.as_str()])?;
    if deleted == 0 {
        return Ok(());
    }
    reach::thing_deleted(conn, name, now)
}
