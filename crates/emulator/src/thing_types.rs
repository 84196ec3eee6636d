//! Thing types, as AWS IoT keeps them (README, Behaviour): created, deprecated (which
//! stops new things from using them), undeprecated, and deleted only when deprecated for at least
//! the configured wait (AWS IoT's five minutes by default) and used by no thing.

use std::time::Duration;

use models::ids::{Location, ThingTypeName};
use models::registry::{
    CreateThingType, Created, ThingType, ThingTypeMetadata, ThingTypeProperties,
};
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::{timestamp, Millis};
use crate::db::{Fail, Res};
use crate::paging;
use crate::rows;

/// How long AWS IoT makes a deprecated thing type wait before it may be deleted.
pub const DEFAULT_DELETE_WAIT: Duration = Duration::from_secs(5 * 60);

fn not_found(name: &ThingTypeName) -> Fail {
    DomainError::NotFound(format!("thing type {:?} does not exist", name.as_str())).into()
}

/// Refuses a thing type a thing may not take: missing (404) or deprecated (409).
pub(crate) fn require_usable(conn: &Connection, name: &ThingTypeName, field: &str) -> Res<()> {
    let deprecated: Option<bool> = conn
        .prepare_cached("SELECT deprecated_at IS NOT NULL FROM thing_types WHERE name = ?1")?
        .query_row([name.as_str()], |r| r.get(0))
        .optional()?;
    match deprecated {
        None => Err(DomainError::NotFound(format!(
            "{field}: thing type {:?} does not exist",
            name.as_str()
        ))
        .into()),
        Some(true) => Err(DomainError::Conflict(format!(
            "{field}: thing type {:?} is deprecated; no new thing may use it",
            name.as_str()
        ))
        .into()),
        Some(false) => Ok(()),
    }
}

pub(crate) fn create(
    conn: &Connection,
    here: &Location,
    thing_type: CreateThingType,
    id: String,
    now: Millis,
) -> Res<Created> {
    let name = &thing_type.thing_type_name;
    let description = thing_type
        .thing_type_description
        .as_ref()
        .map(|d| d.as_str());
    let searchable = rows::to_json(&thing_type.searchable_attributes)?;
    let existing: Option<(String, Option<String>, String)> = conn
        .prepare_cached("SELECT type_id, description, searchable FROM thing_types WHERE name = ?1")?
        .query_row([name.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let type_id = match existing {
        // The same thing type created again succeeds, as in AWS IoT.
        Some((type_id, stored_description, stored_searchable))
            if stored_description.as_deref() == description && stored_searchable == searchable =>
        {
            type_id
        }
        Some(_) => {
            return Err(DomainError::AlreadyExists(format!(
                "thing type {:?} already exists with different properties",
                name.as_str()
            ))
            .into())
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO thing_types (name, type_id, description, searchable, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![name.as_str(), id, description, searchable, now])?;
            id
        }
    };
    Ok(Created {
        arn: here.thing_type_arn(name),
        name: name.as_str().to_owned(),
        id: type_id,
    })
}

const COLUMNS: &str = "seq, name, type_id, description, searchable, deprecated_at, created_at";

fn row(here: &Location, r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ThingType)> {
    let name: ThingTypeName = rows::text(r, "name")?;
    let deprecated_at: Option<Millis> = r.get("deprecated_at")?;
    let thing_type = ThingType {
        thing_type_arn: here.thing_type_arn(&name),
        thing_type_name: name,
        thing_type_id: None,
        thing_type_properties: ThingTypeProperties {
            thing_type_description: r.get("description")?,
            searchable_attributes: rows::json(r, "searchable")?,
        },
        thing_type_metadata: ThingTypeMetadata {
            deprecated: deprecated_at.is_some(),
            deprecation_date: deprecated_at.map(timestamp),
            creation_date: timestamp(r.get("created_at")?),
        },
    };
    Ok((r.get("seq")?, thing_type))
}

pub(crate) fn describe(conn: &Connection, here: &Location, name: &ThingTypeName) -> Res<ThingType> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM thing_types WHERE name = ?1"
        ))?
        .query_row([name.as_str()], |r| {
            let id: String = r.get("type_id")?;
            row(here, r).map(|(_, t)| (id, t))
        })
        .optional()?;
    let (id, mut thing_type) = found.ok_or_else(|| not_found(name))?;
    thing_type.thing_type_id = Some(id);
    Ok(thing_type)
}

pub(crate) fn list(
    conn: &Connection,
    here: &Location,
    name: Option<ThingTypeName>,
    page: PageRequest,
) -> Res<Page<ThingType>> {
    let after = paging::after_seq("thing-types", &page)?;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM thing_types WHERE seq > ?1 AND (?2 IS NULL OR name = ?2) ORDER BY seq LIMIT ?3"
        ))?
        .query_map(
            params![after, name.as_ref().map(ThingTypeName::as_str), paging::fetch_limit(&page)],
            |r| row(here, r).map(|(seq, thing_type)| (seq.to_string(), thing_type)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paging::finish("thing-types", &page, rows))
}

/// Deprecates a thing type (keeping the first deprecation's date when it is deprecated already),
/// or undeprecates it, which clears the date.
pub(crate) fn deprecate(
    conn: &Connection,
    name: &ThingTypeName,
    undo: bool,
    now: Millis,
) -> Res<()> {
    let changed = if undo {
        conn.prepare_cached("UPDATE thing_types SET deprecated_at = NULL WHERE name = ?1")?
            .execute([name.as_str()])?
    } else {
        conn.prepare_cached(
            "UPDATE thing_types SET deprecated_at = coalesce(deprecated_at, ?2) WHERE name = ?1",
        )?
        .execute(params![name.as_str(), now])?
    };
    if changed == 0 {
        return Err(not_found(name));
    }
    Ok(())
}

pub(crate) fn delete(
    conn: &Connection,
    name: &ThingTypeName,
    wait: Duration,
    now: Millis,
) -> Res<()> {
    let deprecated_at: Option<Millis> = conn
        .prepare_cached("SELECT deprecated_at FROM thing_types WHERE name = ?1")?
        .query_row([name.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| not_found(name))?;
    let Some(deprecated_at) = deprecated_at else {
        return Err(DomainError::Conflict(format!(
            "thing type {:?} is not deprecated; deprecate it, wait {} seconds, then delete it",
            name.as_str(),
            wait.as_secs()
        ))
        .into());
    };
    let wait_ms = Millis::try_from(wait.as_millis()).unwrap_or(Millis::MAX);
    let deletable_at = deprecated_at.saturating_add(wait_ms);
    if now < deletable_at {
        return Err(DomainError::Conflict(format!(
            "thing type {:?} was deprecated less than {} seconds ago; it can be deleted from {} ({} seconds from now)",
            name.as_str(),
            wait.as_secs(),
            timestamp(deletable_at)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            (deletable_at - now + 999) / 1000
        ))
        .into());
    }
    let users: Vec<String> = conn
        .prepare_cached("SELECT name FROM things WHERE thing_type = ?1 ORDER BY seq LIMIT 3")?
        .query_map([name.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !users.is_empty() {
        let count: i64 = conn
            .prepare_cached("SELECT count(*) FROM things WHERE thing_type = ?1")?
            .query_row([name.as_str()], |r| r.get(0))?;
        return Err(DomainError::Conflict(format!(
            "thing type {:?} is still used by {count} thing(s) ({}); give them another type, or thingTypeName null, first",
            name.as_str(),
            users.join(", ")
        ))
        .into());
    }
    conn.prepare_cached("DELETE FROM thing_types WHERE name = ?1")?
        .execute([name.as_str()])?;
    Ok(())
}
