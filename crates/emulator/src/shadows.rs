//! Device shadows, classic (stored under the empty name) and named. **[inferred]** As on AWS IoT,
//! shadows live apart from the registry: a thing name needs no registered thing, and deleting a
//! thing keeps its shadows. A change of a registered thing's classic shadow updates its dynamic
//! group memberships.

use models::ids::{ShadowName, ThingName};
use models::shadow::{ShadowDocument, ShadowUpdate, StoredShadow};
use models::{DomainError, Page, PageRequest};
use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::Millis;
use crate::db::{Fail, Res};
use crate::{index, paging, rows};

fn key(shadow: Option<&ShadowName>) -> &str {
    shadow.map_or("", ShadowName::as_str)
}

fn not_found(thing: &ThingName, shadow: Option<&ShadowName>) -> Fail {
    DomainError::NotFound(match shadow {
        Some(name) => format!(
            "thing {:?} has no shadow named {:?}",
            thing.as_str(),
            name.as_str()
        ),
        None => format!("thing {:?} has no classic shadow", thing.as_str()),
    })
    .into()
}

fn load(
    conn: &Connection,
    thing: &ThingName,
    shadow: Option<&ShadowName>,
) -> Res<Option<StoredShadow>> {
    Ok(conn
        .prepare_cached("SELECT document FROM shadows WHERE thing_name = ?1 AND shadow_name = ?2")?
        .query_row([thing.as_str(), key(shadow)], |r| rows::json(r, "document"))
        .optional()?)
}

pub(crate) fn get(
    conn: &Connection,
    thing: &ThingName,
    shadow: Option<&ShadowName>,
    now: Millis,
) -> Res<ShadowDocument> {
    let stored = load(conn, thing, shadow)?.ok_or_else(|| not_found(thing, shadow))?;
    Ok(stored.document(now / 1000))
}

pub(crate) fn update(
    conn: &Connection,
    thing: &ThingName,
    shadow: Option<&ShadowName>,
    update: &ShadowUpdate,
    now: Millis,
) -> Res<i64> {
    let mut stored = load(conn, thing, shadow)?.unwrap_or_default();
    stored.apply(update, now / 1000)?;
    let document = rows::to_json(&stored)?;
    conn.prepare_cached(
        "INSERT INTO shadows (thing_name, shadow_name, document) VALUES (?1, ?2, ?3) \
         ON CONFLICT (thing_name, shadow_name) DO UPDATE SET document = excluded.document",
    )?
    .execute(params![thing.as_str(), key(shadow), document])?;
    if shadow.is_none() {
        index::refresh_thing(conn, thing, now)?;
    }
    Ok(stored.version)
}

pub(crate) fn delete(
    conn: &Connection,
    thing: &ThingName,
    shadow: Option<&ShadowName>,
    now: Millis,
) -> Res<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM shadows WHERE thing_name = ?1 AND shadow_name = ?2")?
        .execute([thing.as_str(), key(shadow)])?;
    if deleted == 0 {
        return Err(not_found(thing, shadow));
    }
    if shadow.is_none() {
        index::refresh_thing(conn, thing, now)?;
    }
    Ok(())
}

pub(crate) fn list_named(
    conn: &Connection,
    thing: &ThingName,
    page: PageRequest,
) -> Res<Page<ShadowName>> {
    let after = paging::after_key("shadows", &page)?.unwrap_or_default();
    let names: Vec<String> = conn
        .prepare_cached(
            "SELECT shadow_name FROM shadows WHERE thing_name = ?1 AND shadow_name <> '' AND shadow_name > ?2 \
             ORDER BY shadow_name LIMIT ?3",
        )?
        .query_map(params![thing.as_str(), after, paging::fetch_limit(&page)], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut items = Vec::with_capacity(names.len());
    for name in names {
        items.push((name.clone(), rows::stored::<ShadowName>(name)?));
    }
    Ok(paging::finish("shadows", &page, items))
}
