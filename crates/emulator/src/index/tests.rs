//! The indexed search finds exactly what reading the whole fleet finds, for any query of the
//! grammar over things whose values collide in every way the query language distinguishes.

use std::collections::BTreeMap;

use models::query::Query;
use models::shadow::StoredShadow;
use proptest::prelude::*;
use rusqlite::{params, Connection};
use serde_json::{json, Value};

use super::{find, refresh_thing, Plan};

/// A thing of the generated fleet: its type, static groups, attribute `x` and classic shadow.
#[derive(Clone, Debug)]
struct Thing {
    thing_type: Option<&'static str>,
    groups: Vec<&'static str>,
    x: Option<&'static str>,
    reported: Option<Value>,
    desired: Option<Value>,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(1)),
        Just(json!(2.0)),
        Just(json!(10)),
        Just(json!(-3.5)),
        Just(json!("1")),
        Just(json!("1.0")),
        Just(json!("ab")),
        Just(json!(true)),
        Just(json!([1, "ab"])),
        Just(json!({"b": 1})),
        Just(json!({"b": "ab"})),
        Just(Value::Null),
    ]
}

fn thing() -> impl Strategy<Value = Thing> {
    (
        proptest::option::of(prop_oneof![Just("T1"), Just("T2")]),
        proptest::sample::subsequence(vec!["g1", "g2", "dyn"], 0..=3),
        proptest::option::of(prop_oneof![
            Just("1"),
            Just("1.0"),
            Just("10"),
            Just("ab"),
            Just("a.b"),
            Just("true"),
            Just("-3.5")
        ]),
        proptest::option::of(value()),
        proptest::option::of(value()),
    )
        .prop_map(|(thing_type, groups, x, reported, desired)| Thing {
            thing_type,
            groups,
            x,
            reported,
            desired,
        })
}

fn query() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("thingName"),
        Just("thingTypeName"),
        Just("thingGroupNames"),
        Just("attributes.x"),
        Just("shadow.reported.a"),
        Just("shadow.reported.a.b"),
        Just("shadow.desired.a"),
    ];
    let predicate = prop_oneof![
        Just(":1"),
        Just(":1.0"),
        Just(":2"),
        Just(":10"),
        Just(":ab"),
        Just(":a*"),
        Just(":*"),
        Just(":*b"),
        Just(":true"),
        Just(":T1"),
        Just(":g1"),
        Just(":dyn"),
        Just(":d-3"),
        Just(":d-*"),
        Just(">1"),
        Just("<=2"),
        Just("<0"),
        Just(":[1 TO 10]"),
    ];
    let leaf = (field, predicate).prop_map(|(f, p)| format!("{f}{p}"));
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

fn fleet(things: &[Thing]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    crate::db::create_schema(&conn).unwrap();
    for group in ["g1", "g2"] {
        conn.execute(
            "INSERT INTO thing_groups (name, group_id, version, created_at) VALUES (?1, ?1, 1, 0)",
            [group],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO thing_groups (name, group_id, version, created_at, query) VALUES ('dyn', 'dyn', 1, 0, 'thingName:none')",
        [],
    )
    .unwrap();
    for (i, thing) in things.iter().enumerate() {
        let name = format!("d-{i}");
        let attributes: BTreeMap<&str, &str> = thing.x.iter().map(|x| ("x", *x)).collect();
        conn.execute(
            "INSERT INTO things (name, thing_id, attributes, version, created_at, thing_type) VALUES (?1, ?1, ?2, 1, 0, ?3)",
            params![name, serde_json::to_string(&attributes).unwrap(), thing.thing_type],
        )
        .unwrap();
        for group in &thing.groups {
            conn.execute(
                "INSERT INTO group_members (group_name, thing_name) VALUES (?1, ?2)",
                [group, &name.as_str()],
            )
            .unwrap();
        }
        let section = |value: &Option<Value>| {
            value
                .as_ref()
                .map(|v| json!({ "a": v }).as_object().unwrap().clone())
        };
        if thing.reported.is_some() || thing.desired.is_some() {
            let shadow = StoredShadow {
                reported: section(&thing.reported),
                desired: section(&thing.desired),
                version: 1,
                ..StoredShadow::default()
            };
            conn.execute(
                "INSERT INTO shadows (thing_name, shadow_name, document) VALUES (?1, '', ?2)",
                params![name, serde_json::to_string(&shadow).unwrap()],
            )
            .unwrap();
        }
        // Indexes the thing's values; the only dynamic group matches no thing.
        refresh_thing(&conn, &models::ids::ThingName::parse(&name).unwrap(), 0).unwrap();
    }
    conn
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn an_indexed_search_finds_what_a_full_scan_finds(
        things in proptest::collection::vec(thing(), 0..12),
        query in query(),
    ) {
        let conn = fleet(&things);
        let query = Query::parse(&query).unwrap();
        let names = |plan: Option<Plan>| -> Vec<String> {
            find(&conn, &query, plan, 0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect()
        };
        let plan = Plan::of(&conn, &query).unwrap();
        prop_assert_eq!(names(plan), names(None), "{}", query);
    }
}

#[test]
fn a_term_on_an_indexed_field_reads_its_matches_only() {
    let things: Vec<Thing> = (0..200)
        .map(|i| Thing {
            thing_type: None,
            groups: Vec::new(),
            x: Some(if i % 100 == 7 { "ab" } else { "1" }),
            reported: None,
            desired: None,
        })
        .collect();
    let conn = fleet(&things);
    let query = Query::parse("attributes.x:ab AND NOT thingName:d-7").unwrap();
    let plan = Plan::of(&conn, &query).unwrap().expect("an indexed plan");
    assert_eq!(plan.candidates(&conn, 0, 100).unwrap(), vec![8, 108]);
    let query = Query::parse("NOT attributes.x:ab").unwrap();
    assert!(
        Plan::of(&conn, &query).unwrap().is_none(),
        "a negation reads the fleet"
    );
}
