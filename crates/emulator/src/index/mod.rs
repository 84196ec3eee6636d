//! The fleet index: what queries see of a thing, search, and dynamic thing group membership,
//! which is brought up to date in the same transaction as every change that can move it.
//!
//! Things' attributes and classic shadow values are kept in `thing_values` ([`values`]), so a
//! search or a dynamic group reads the things its query's terms name ([`plan`]), not the fleet.

use models::ids::{ThingGroupName, ThingName, ThingTypeName};
use models::query::{Indexed, Needs, Query};
use models::registry::ThingDocument;
use models::shadow::StoredShadow;
use models::{DomainError, Page, PageRequest};
use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use crate::clock::Millis;
use crate::db::Res;
use crate::paging;
use crate::registry::reach::{joined, left};
use crate::rows;

mod plan;
mod values;

use plan::Plan;

/// One thing as the index holds it.
struct Entry {
    seq: i64,
    name: String,
    thing_id: String,
    thing_type: Option<String>,
    attributes: std::collections::BTreeMap<String, String>,
    /// Its static groups: **[inferred]** `thingGroupNames` does not see dynamic groups, so no
    /// dynamic group's membership depends on another's.
    groups: Vec<String>,
    shadow: Option<StoredShadow>,
}

impl Entry {
    fn matches(&self, query: &Query) -> bool {
        query.matches(&Indexed {
            thing_name: &self.name,
            thing_type_name: self.thing_type.as_deref(),
            thing_group_names: &self.groups,
            attributes: &self.attributes,
            reported: self.shadow.as_ref().and_then(|s| s.reported.as_ref()),
            desired: self.shadow.as_ref().and_then(|s| s.desired.as_ref()),
        })
    }
}

/// Everything the index holds of a thing.
const ALL: Needs = Needs {
    groups: true,
    shadow: true,
};

/// The SELECT that reads things for the index: their static groups and classic shadow, which
/// cost a lookup each, only when `needs` says so (otherwise none and no shadow).
fn entry_sql(needs: Needs) -> String {
    let groups = if needs.groups {
        "(SELECT json_group_array(m.group_name) FROM group_members m \
          JOIN thing_groups g ON g.name = m.group_name WHERE m.thing_name = t.name AND g.query IS NULL)"
    } else {
        "'[]'"
    };
    let shadow = if needs.shadow {
        "(SELECT s.document FROM shadows s WHERE s.thing_name = t.name AND s.shadow_name = '')"
    } else {
        "NULL"
    };
    format!(
        "SELECT t.seq, t.name, t.thing_id, t.thing_type, t.attributes, {groups} AS groups, \
         {shadow} AS shadow FROM things t"
    )
}

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let mut groups: Vec<String> = rows::json(r, "groups")?;
    groups.sort();
    Ok(Entry {
        seq: r.get("seq")?,
        name: r.get("name")?,
        thing_id: r.get("thing_id")?,
        thing_type: r.get("thing_type")?,
        attributes: rows::json(r, "attributes")?,
        groups,
        shadow: rows::json_opt(r, "shadow")?,
    })
}

fn stored_query(text: &str) -> Res<Query> {
    Query::parse(text).map_err(|e| {
        DomainError::Internal(format!("stored dynamic group query is invalid: {e}")).into()
    })
}

/// Brings every dynamic group's membership of one thing up to date (after the thing, its static
/// groups or its classic shadow changed).
pub(crate) fn refresh_thing(conn: &Connection, thing: &ThingName, now: Millis) -> Res<()> {
    let Some(entry) = conn
        .prepare_cached(&format!("{} WHERE t.name = ?1", entry_sql(ALL)))?
        .query_row([thing.as_str()], entry)
        .optional()?
    else {
        return Ok(());
    };
    values::write(conn, entry.seq, &entry.attributes, entry.shadow.as_ref())?;
    let groups: Vec<(String, String, bool)> = conn
        .prepare_cached(
            "SELECT g.name, g.query, EXISTS (SELECT 1 FROM group_members m WHERE m.group_name = g.name AND m.thing_name = ?1) \
             FROM thing_groups g WHERE g.query IS NOT NULL",
        )?
        .query_map([thing.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (group, query, member) in groups {
        let matches = entry.matches(&stored_query(&query)?);
        if matches != member {
            let group = rows::stored::<ThingGroupName>(group)?;
            if matches {
                joined(conn, &group, thing, now)?;
            } else {
                left(conn, &group, thing, now)?;
            }
        }
    }
    Ok(())
}

/// Brings one dynamic group's membership up to date with its query (after it was created or its
/// query changed): the things its plan names are checked, and members that are not among the
/// matches leave.
pub(crate) fn refresh_group(
    conn: &Connection,
    group: &ThingGroupName,
    query: &Query,
    now: Millis,
) -> Res<()> {
    let members: HashSet<String> = conn
        .prepare_cached("SELECT thing_name FROM group_members WHERE group_name = ?1")?
        .query_map([group.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let needs = query.needs();
    let entries = match Plan::of(conn, query)? {
        Some(plan) => {
            let mut by_seq =
                conn.prepare_cached(&format!("{} WHERE t.seq = ?1", entry_sql(needs)))?;
            let mut entries = Vec::new();
            for seq in plan.candidates(conn, 0, i64::MAX)? {
                if let Some(entry) = by_seq.query_row([seq], entry).optional()? {
                    entries.push(entry);
                }
            }
            entries
        }
        None => conn
            .prepare_cached(&format!("{} ORDER BY t.seq", entry_sql(needs)))?
            .query_map([], entry)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut matched = HashSet::new();
    for entry in entries {
        if entry.matches(query) {
            if !members.contains(&entry.name) {
                joined(
                    conn,
                    group,
                    &rows::stored::<ThingName>(entry.name.clone())?,
                    now,
                )?;
            }
            matched.insert(entry.name);
        }
    }
    let mut leaving: Vec<String> = members
        .into_iter()
        .filter(|m| !matched.contains(m))
        .collect();
    leaving.sort();
    for member in leaving {
        left(conn, group, &rows::stored::<ThingName>(member)?, now)?;
    }
    Ok(())
}

/// Forgets the searchable values of a thing about to be deleted.
pub(crate) fn forget_thing(conn: &Connection, thing: &ThingName) -> Res<()> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM things WHERE name = ?1")?
        .query_row([thing.as_str()], |r| r.get(0))
        .optional()?;
    match seq {
        Some(seq) => values::forget(conn, seq),
        None => Ok(()),
    }
}

/// Rebuilds `thing_values` for every thing, for a database written before it existed.
pub(crate) fn rebuild(conn: &Connection) -> Res<()> {
    let entries = conn
        .prepare(&entry_sql(Needs {
            groups: false,
            shadow: true,
        }))?
        .query_map([], entry)?
        .collect::<Result<Vec<_>, _>>()?;
    for entry in entries {
        values::write(conn, entry.seq, &entry.attributes, entry.shadow.as_ref())?;
    }
    Ok(())
}

/// Up to `wanted` things after `after` that match `query`, in creation order: the candidates of
/// `plan`, or every thing when there is none.
fn find(
    conn: &Connection,
    query: &Query,
    plan: Option<Plan>,
    after: i64,
    wanted: usize,
) -> Res<Vec<Entry>> {
    let mut found = Vec::new();
    match plan {
        Some(plan) => {
            let mut by_seq =
                conn.prepare_cached(&format!("{} WHERE t.seq = ?1", entry_sql(ALL)))?;
            let mut from = after;
            'pages: loop {
                let candidates = plan.candidates(conn, from, 256)?;
                for &seq in &candidates {
                    let Some(entry) = by_seq.query_row([seq], entry).optional()? else {
                        continue;
                    };
                    if entry.matches(query) {
                        found.push(entry);
                        if found.len() >= wanted {
                            break 'pages;
                        }
                    }
                }
                match candidates.last() {
                    Some(&last) if plan.pages() => from = last,
                    _ => break,
                }
            }
        }
        None => {
            // Only what the query reads is loaded to decide; the matches are loaded whole.
            let needs = query.needs();
            let mut statement = conn.prepare_cached(&format!(
                "{} WHERE t.seq > ?1 ORDER BY t.seq",
                entry_sql(needs)
            ))?;
            let mut rows = statement.query([after])?;
            while let Some(row) = rows.next()? {
                let entry = entry(row)?;
                if !entry.matches(query) {
                    continue;
                }
                found.push(if needs == ALL {
                    entry
                } else {
                    conn.prepare_cached(&format!("{} WHERE t.seq = ?1", entry_sql(ALL)))?
                        .query_row([entry.seq], self::entry)?
                });
                if found.len() >= wanted {
                    break;
                }
            }
        }
    }
    Ok(found)
}

/// Things matching a query, in creation order: the candidates of its plan, or every thing when
/// it has none, each checked against the query until the page is full.
pub(crate) fn search(
    conn: &Connection,
    query: &Query,
    page: PageRequest,
) -> Res<Page<ThingDocument>> {
    let after = paging::after_seq("search", &page)?;
    let wanted = usize::try_from(paging::fetch_limit(&page)).unwrap_or(usize::MAX);
    let found = find(conn, query, Plan::of(conn, query)?, after, wanted)?;
    let mut items = Vec::with_capacity(found.len());
    for entry in found {
        // As AWS IoT's index holds it: the sections side by side, with metadata and version.
        let shadow = entry.shadow.as_ref().map(|s| {
            let mut document = serde_json::Map::new();
            for (key, section) in [("desired", &s.desired), ("reported", &s.reported)] {
                if let Some(section) = section {
                    document.insert(key.into(), Value::Object(section.clone()));
                }
            }
            let mut metadata = serde_json::Map::new();
            for (key, section) in [
                ("desired", &s.desired_metadata),
                ("reported", &s.reported_metadata),
            ] {
                if let Some(section) = section {
                    metadata.insert(key.into(), Value::Object(section.clone()));
                }
            }
            document.insert("metadata".into(), Value::Object(metadata));
            document.insert("version".into(), s.version.into());
            Value::Object(document)
        });
        items.push((
            entry.seq.to_string(),
            ThingDocument {
                thing_name: rows::stored::<ThingName>(entry.name)?,
                thing_id: entry.thing_id,
                thing_type_name: entry
                    .thing_type
                    .map(rows::stored::<ThingTypeName>)
                    .transpose()?,
                thing_group_names: entry.groups,
                attributes: entry.attributes,
                shadow,
            },
        ));
    }
    Ok(paging::finish("search", &page, items))
}

#[cfg(test)]
mod tests;
