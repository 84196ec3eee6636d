//! The searchable values of things, kept in `thing_values` beside the registry: one row per
//! attribute and per scalar leaf of the classic shadow's desired and reported sections, under
//! the field name a query uses (`attributes.floor`, `shadow.reported.fw.version`).
//!
//! A row holds the text a `field:value` term compares and the number a comparison reads, so
//! that the rows a term's index range returns are exactly the things whose field can satisfy it:
//! keys with a dot or empty keys are left out (no query path reaches them), array elements are
//! indexed under the array's path (a term matches any element), and objects and nulls are not
//! indexed (no term matches them).

use std::collections::BTreeMap;

use models::shadow::StoredShadow;
use rusqlite::{params, Connection};
use serde_json::{Map, Value};

use crate::db::Res;

/// One searchable value of a thing.
struct Row {
    field: String,
    text: String,
    number: Option<f64>,
}

/// The text a `field:value` term finds a JSON number by: a number matches a value that reads as
/// the same number, so both sides are written the same way ("42" for 42, 42.0 and 4.2e1).
pub(super) fn number_text(n: f64) -> String {
    format!("{n}")
}

fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| !n.is_nan())
}

fn addressable(key: &str) -> bool {
    !key.is_empty() && !key.contains('.')
}

fn scalar(field: &str, value: &Value, rows: &mut Vec<Row>) {
    let mut push = |text: String, number: Option<f64>| {
        rows.push(Row {
            field: field.to_owned(),
            text,
            number,
        })
    };
    match value {
        Value::String(s) => push(s.clone(), number(s)),
        Value::Bool(b) => push(b.to_string(), None),
        Value::Number(n) => {
            // Wildcards compare the number as JSON writes it; exact terms compare its value.
            let as_f64 = n.as_f64().filter(|n| !n.is_nan());
            push(n.to_string(), as_f64);
            if let Some(value) = as_f64 {
                if number_text(value) != n.to_string() {
                    push(number_text(value), as_f64);
                }
            }
        }
        Value::Null | Value::Array(_) | Value::Object(_) => {}
    }
}

fn section(prefix: &str, map: &Map<String, Value>, rows: &mut Vec<Row>) {
    for (key, value) in map.iter().filter(|(key, _)| addressable(key)) {
        let field = format!("{prefix}.{key}");
        match value {
            Value::Object(inner) => section(&field, inner, rows),
            Value::Array(items) => items.iter().for_each(|item| scalar(&field, item, rows)),
            _ => scalar(&field, value, rows),
        }
    }
}

/// Replaces the searchable values of the thing numbered `seq`.
pub(super) fn write(
    conn: &Connection,
    seq: i64,
    attributes: &BTreeMap<String, String>,
    shadow: Option<&StoredShadow>,
) -> Res<()> {
    forget(conn, seq)?;
    let mut rows: Vec<Row> = attributes
        .iter()
        .filter(|(name, _)| addressable(name))
        .map(|(name, value)| Row {
            field: format!("attributes.{name}"),
            text: value.clone(),
            number: number(value),
        })
        .collect();
    if let Some(shadow) = shadow {
        if let Some(reported) = &shadow.reported {
            section("shadow.reported", reported, &mut rows);
        }
        if let Some(desired) = &shadow.desired {
            section("shadow.desired", desired, &mut rows);
        }
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO thing_values (field, value, number, thing_seq) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for row in rows {
        insert.execute(params![row.field, row.text, row.number, seq])?;
    }
    Ok(())
}

/// Removes the searchable values of the thing numbered `seq`.
pub(super) fn forget(conn: &Connection, seq: i64) -> Res<()> {
    conn.prepare_cached("DELETE FROM thing_values WHERE thing_seq = ?1")?
        .execute([seq])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(reported: Value) -> Vec<(String, String, Option<f64>)> {
        let mut rows = Vec::new();
        section("shadow.reported", reported.as_object().unwrap(), &mut rows);
        // Keys come in the map's order, which serde_json's `preserve_order` feature changes when
        // another crate of the build turns it on; a field's own rows keep their order.
        rows.sort_by(|a, b| a.field.cmp(&b.field));
        rows.into_iter()
            .map(|r| (r.field, r.text, r.number))
            .collect()
    }

    #[test]
    fn leaves_are_indexed_under_their_path_and_unreachable_keys_are_not() {
        let rows = rows_of(serde_json::json!({
            "fw": {"version": "2.1", "ok": true},
            "temp": 42.0,
            "tags": ["a", 7, {"x": 1}],
            "a.b": 1,
            "": 2,
            "gone": null
        }));
        let expected = [
            ("shadow.reported.fw.ok", "true", None),
            ("shadow.reported.fw.version", "2.1", Some(2.1)),
            ("shadow.reported.tags", "a", None),
            ("shadow.reported.tags", "7", Some(7.0)),
            ("shadow.reported.temp", "42.0", Some(42.0)),
            ("shadow.reported.temp", "42", Some(42.0)),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(f, t, n)| (f.to_string(), t.to_string(), *n))
            .collect();
        assert_eq!(rows, expected);
    }
}
