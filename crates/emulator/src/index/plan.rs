//! Which things a query can match, read from indexes instead of the whole fleet.
//!
//! A plan is a union of sources, each one indexed SELECT of thing sequence numbers, that holds
//! every thing the query matches and usually few others; the query itself still decides each
//! candidate, so a plan only has to be a superset. A term on a name, a type, a group, an
//! attribute or a classic shadow value has a source; `A OR B` has the union of both sides';
//! `A AND B` has the smaller side's (counted up to `COUNT_CAP` rows); `NOT` has none, so a query
//! made only of negations reads the fleet, as its matches are most of it.

use models::query::{Expr, Field, Predicate, Query};
use rusqlite::types::Value as Sql;
use rusqlite::Connection;

use super::values::number_text;
use crate::db::Res;

/// How far a source is counted when choosing between the sides of an AND: beyond this, the
/// larger side costs too much to read either way.
const COUNT_CAP: i64 = 5_000;

/// One indexed SELECT of thing sequence numbers.
pub(super) struct Source {
    /// `FROM ... WHERE ...`, with `?` placeholders for `params`.
    from_where: &'static str,
    /// The column holding the sequence number.
    seq: &'static str,
    params: Vec<Sql>,
    /// Whether the index returns rows in sequence order, so a page can stop early.
    ordered: bool,
}

/// The sources whose union holds every match, or `None` when the fleet must be read.
pub(super) struct Plan {
    sources: Vec<Source>,
}

impl Plan {
    pub(super) fn of(conn: &Connection, query: &Query) -> Res<Option<Plan>> {
        Ok(plan(conn, query.expr())?.map(|sources| Plan { sources }))
    }

    /// Up to `limit` candidates after `after`, in sequence order. A single ordered source is
    /// read a page at a time; anything else is read whole, and its candidates all returned.
    pub(super) fn candidates(&self, conn: &Connection, after: i64, limit: i64) -> Res<Vec<i64>> {
        if let [source] = self.sources.as_slice() {
            if source.ordered {
                let sql = format!(
                    "SELECT {seq} FROM {from_where} AND {seq} > ? ORDER BY {seq} LIMIT ?",
                    seq = source.seq,
                    from_where = source.from_where
                );
                let mut params = source.params.clone();
                params.extend([Sql::Integer(after), Sql::Integer(limit)]);
                return select(conn, &sql, params);
            }
        }
        let mut seqs = Vec::new();
        for source in &self.sources {
            let sql = format!(
                "SELECT {seq} FROM {from_where} AND {seq} > ?",
                seq = source.seq,
                from_where = source.from_where
            );
            let mut params = source.params.clone();
            params.push(Sql::Integer(after));
            seqs.extend(select(conn, &sql, params)?);
        }
        seqs.sort_unstable();
        seqs.dedup();
        Ok(seqs)
    }

    /// Whether `candidates` returns a page at a time (otherwise it returns everything at once).
    pub(super) fn pages(&self) -> bool {
        matches!(self.sources.as_slice(), [source] if source.ordered)
    }
}

fn select(conn: &Connection, sql: &str, params: Vec<Sql>) -> Res<Vec<i64>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(rusqlite::params_from_iter(params), |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

fn count(conn: &Connection, sources: &[Source]) -> Res<i64> {
    let mut total = 0;
    for source in sources {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT {COUNT_CAP})",
            source.from_where
        );
        total += conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(&source.params), |r| {
                r.get::<_, i64>(0)
            })?;
    }
    Ok(total)
}

/// The sources of `expr`. Rows are counted only to choose between the sides of an AND, so a
/// query without one reads no more than its page.
fn plan(conn: &Connection, expr: &Expr) -> Res<Option<Vec<Source>>> {
    Ok(match expr {
        Expr::Term(field, predicate) => term(field, predicate).map(|source| vec![source]),
        Expr::Not(_) => None,
        Expr::Or(a, b) => match (plan(conn, a)?, plan(conn, b)?) {
            (Some(mut left), Some(right)) => {
                left.extend(right);
                Some(left)
            }
            _ => None,
        },
        Expr::And(a, b) => match (plan(conn, a)?, plan(conn, b)?) {
            (Some(left), Some(right)) => Some(if count(conn, &right)? < count(conn, &left)? {
                right
            } else {
                left
            }),
            (left, right) => left.or(right),
        },
    })
}

fn term(field: &Field, predicate: &Predicate) -> Option<Source> {
    let text = |pattern: &str| Sql::Text(pattern.to_owned());
    let source =
        |from_where: &'static str, seq: &'static str, params: Vec<Sql>, ordered: bool| Source {
            from_where,
            seq,
            params,
            ordered,
        };
    let name = match field {
        Field::ThingName | Field::ThingTypeName | Field::ThingGroupNames => {
            let Predicate::Matches(pattern) = predicate else {
                // Numeric comparisons of names are rare enough to read the fleet for.
                return None;
            };
            // A term compares text exactly, or as a glob whose `*` is the query's wildcard (the
            // query language has no other glob character).
            let exact = !pattern.contains('*');
            let from_where = match (field, exact) {
                (Field::ThingName, true) => "things WHERE name = ?",
                (Field::ThingName, false) => "things WHERE name GLOB ?",
                (Field::ThingTypeName, true) => "things WHERE thing_type = ?",
                (Field::ThingTypeName, false) => "things WHERE thing_type GLOB ?",
                (_, true) => "group_members m JOIN things t ON t.name = m.thing_name WHERE m.group_name = ?",
                (_, false) => "group_members m JOIN things t ON t.name = m.thing_name WHERE m.group_name GLOB ?",
            };
            let seq = if matches!(field, Field::ThingGroupNames) {
                "t.seq"
            } else {
                "seq"
            };
            // Group members come by group and thing name, not in sequence order.
            let ordered = exact && !matches!(field, Field::ThingGroupNames);
            return Some(source(from_where, seq, vec![text(pattern)], ordered));
        }
        Field::Attribute(name) => format!("attributes.{name}"),
        Field::Reported(path) => format!("shadow.reported.{}", path.join(".")),
        Field::Desired(path) => format!("shadow.desired.{}", path.join(".")),
    };
    let field = Sql::Text(name);
    let number = |n: f64| Sql::Real(n);
    Some(match predicate {
        Predicate::Matches(pattern) if pattern.contains('*') => source(
            "thing_values WHERE field = ? AND value GLOB ?",
            "thing_seq",
            vec![field, text(pattern)],
            false,
        ),
        Predicate::Matches(pattern) => {
            // A JSON number matches the pattern when the pattern reads as the same number.
            let as_number = pattern
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(number_text)
                .filter(|written| written != pattern);
            match as_number {
                None => source(
                    "thing_values WHERE field = ? AND value = ?",
                    "thing_seq",
                    vec![field, text(pattern)],
                    true,
                ),
                Some(written) => source(
                    "thing_values WHERE field = ? AND value IN (?, ?)",
                    "thing_seq",
                    vec![field, text(pattern), text(&written)],
                    false,
                ),
            }
        }
        Predicate::Less(n) => source(
            "thing_values WHERE field = ? AND number < ?",
            "thing_seq",
            vec![field, number(*n)],
            false,
        ),
        Predicate::LessOrEqual(n) => source(
            "thing_values WHERE field = ? AND number <= ?",
            "thing_seq",
            vec![field, number(*n)],
            false,
        ),
        Predicate::Greater(n) => source(
            "thing_values WHERE field = ? AND number > ?",
            "thing_seq",
            vec![field, number(*n)],
            false,
        ),
        Predicate::GreaterOrEqual(n) => source(
            "thing_values WHERE field = ? AND number >= ?",
            "thing_seq",
            vec![field, number(*n)],
            false,
        ),
        Predicate::Range(low, high) => source(
            "thing_values WHERE field = ? AND number BETWEEN ? AND ?",
            "thing_seq",
            vec![field, number(*low), number(*high)],
            false,
        ),
    })
}
