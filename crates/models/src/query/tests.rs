use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn lamp<'a>(
    attributes: &'a BTreeMap<String, String>,
    groups: &'a [String],
    reported: &'a Value,
) -> Indexed<'a> {
    Indexed {
        thing_name: "lamp-17",
        thing_type_name: Some("LightBulb"),
        thing_group_names: groups,
        attributes,
        reported: reported.as_object(),
        desired: None,
    }
}

fn check(query: &str) -> bool {
    let attributes = BTreeMap::from([
        ("model".to_owned(), "L100".to_owned()),
        ("watts".to_owned(), "60".to_owned()),
    ]);
    let groups = vec!["kitchen".to_owned(), "floor-1".to_owned()];
    let reported =
        json!({"temp": 21.5, "on": true, "fw": {"version": "1.2.0"}, "tags": ["a", "b"]});
    Query::parse(query)
        .unwrap_or_else(|e| panic!("{query:?}: {e}"))
        .matches(&lamp(&attributes, &groups, &reported))
}

#[test]
fn terms_match_each_field() {
    assert!(check("thingName:lamp-17"));
    assert!(!check("thingName:lamp"));
    assert!(check("thingName:lamp*"));
    assert!(check("thingName:*-17"));
    assert!(check("thingName:l*p*7"));
    assert!(check("thingTypeName:LightBulb"));
    assert!(check("thingGroupNames:kitchen"));
    assert!(check("thingGroupNames:floor*"));
    assert!(!check("thingGroupNames:garage"));
    assert!(check("attributes.model:L100"));
    assert!(!check("attributes.colour:red"));
    assert!(check("shadow.reported.on:true"));
    assert!(check("shadow.reported.temp:21.5"));
    assert!(check("shadow.reported.fw.version:1.2.*"));
    assert!(check("shadow.reported.tags:b"));
    assert!(!check("shadow.desired.on:true"));
}

#[test]
fn numbers_compare_and_ranges_include_their_ends() {
    assert!(check("attributes.watts>59"));
    assert!(check("attributes.watts>=60"));
    assert!(!check("attributes.watts>60"));
    assert!(check("attributes.watts<=60"));
    assert!(check("shadow.reported.temp<22"));
    assert!(check("shadow.reported.temp:[21.5 TO 30]"));
    assert!(!check("shadow.reported.temp:[22 TO 30]"));
    assert!(!check("attributes.model>1"), "a non-number never compares");
}

#[test]
fn operators_follow_precedence() {
    assert!(check("thingName:x OR thingTypeName:LightBulb"));
    assert!(!check("thingName:x AND thingTypeName:LightBulb"));
    assert!(
        !check("thingName:lamp-17 thingTypeName:Other"),
        "side by side is AND"
    );
    assert!(check("NOT thingName:x"));
    assert!(
        check("NOT attributes.colour:red"),
        "NOT of a missing field holds"
    );
    // AND binds tighter than OR: x OR (lamp AND LightBulb).
    assert!(check(
        "thingName:x OR thingName:lamp-17 AND thingTypeName:LightBulb"
    ));
    assert!(!check(
        "(thingName:x OR thingName:lamp-17) AND thingTypeName:Other"
    ));
    assert!(check("NOT (thingName:x OR thingName:y)"));
}

#[test]
fn anything_outside_the_subset_names_its_token() {
    let refused = |query: &str, token: &str| {
        let error = Query::parse(query).expect_err(query);
        assert_eq!(error.token, token, "{query:?}: {error}");
    };
    refused("connectivity.connected:true", "connectivity.connected");
    refused("thingName:a? ", "?");
    refused("thingName:\"lamp\"", "\"lamp\"");
    refused("thingName:a and thingName:b", "and");
    refused("attributes.w:{1 TO 5}", "{1");
    refused("thingName:", "thingName:");
    refused("attributes.w:[1 TO x]", "attributes.w:[1 TO x]");
    refused("attributes.w>x", "attributes.w>x");
    refused("(thingName:a", "(");
    refused("thingName:a)", ")");
    refused("thingName:a OR", "OR");
    refused("shadow.reported..x:1", "shadow.reported..x");
    refused(
        "shadow.name.config.reported.x:1",
        "shadow.name.config.reported.x",
    );
    refused("attributes.w:[1 TO 5", "[1 TO 5");
    assert!(Query::parse("   ").is_err());
    assert!(Query::parse(&"(".repeat(40)).is_err(), "nesting is bounded");
}

#[test]
fn a_query_says_what_it_reads() {
    let query = Query::parse("thingName:lamp-1 AND (thingGroupNames:a OR attributes.x:1)").unwrap();
    assert_eq!(
        query.needs(),
        Needs {
            groups: true,
            shadow: false
        }
    );
    let query = Query::parse("thingName:lamp* shadow.reported.on:true").unwrap();
    assert_eq!(
        query.needs(),
        Needs {
            groups: false,
            shadow: true
        }
    );
}

#[test]
fn wildcards_handle_any_text() {
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("a*a", "aa"));
    assert!(!wildcard_match("a*a", "a"));
    assert!(wildcard_match("é*", "été"));
    assert!(!wildcard_match("ab*ba", "aba"));
}

/// A query in the subset, built from its grammar.
fn expr() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("thingName".to_owned()),
        Just("thingTypeName".to_owned()),
        Just("thingGroupNames".to_owned()),
        "[a-z]{1,5}".prop_map(|n| format!("attributes.{n}")),
        "[a-z]{1,4}(\\.[a-z]{1,4}){0,2}".prop_map(|p| format!("shadow.reported.{p}")),
    ];
    let predicate = prop_oneof![
        "[a-z0-9*]{1,6}".prop_map(|v| format!(":{v}")),
        (-100i32..100).prop_map(|n| format!(">={n}")),
        (-100i32..100).prop_map(|n| format!("<{n}")),
        (-100i32..0, 0i32..100).prop_map(|(a, b)| format!(":[{a} TO {b}]")),
    ];
    let leaf = (field, predicate).prop_map(|(f, p)| format!("{f}{p}"));
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_parser_never_panics_on_any_text(text in "\\PC{0,80}") {
        let _ = Query::parse(&text);
    }

    #[test]
    fn the_parser_never_panics_on_near_queries(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("thingName:a*"), Just("attributes.x>3"), Just("AND"), Just("OR"), Just("NOT"),
                Just("("), Just(")"), Just("["), Just("]"), Just(" TO "), Just(":"), Just("<="),
                Just("shadow.reported."), Just("*"), Just("\""), Just("é"), Just(" "),
            ],
            0..20,
        )
    ) {
        let _ = Query::parse(&parts.concat());
    }

    #[test]
    fn every_query_of_the_grammar_parses(query in expr()) {
        prop_assert!(Query::parse(&query).is_ok(), "{query:?}: {:?}", Query::parse(&query).err());
    }

    #[test]
    fn not_is_the_complement(query in expr(), watts in -200i32..200, name in "[a-z0-9]{1,6}") {
        let attributes = BTreeMap::from([("x".to_owned(), watts.to_string())]);
        let reported = json!({"a": watts, "b": {"c": name.clone()}});
        let thing = Indexed {
            thing_name: &name,
            thing_type_name: None,
            thing_group_names: &[],
            attributes: &attributes,
            reported: reported.as_object(),
            desired: None,
        };
        let positive = Query::parse(&query).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let negated = Query::parse(&format!("NOT ({query})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_ne!(positive.matches(&thing), negated.matches(&thing));
    }
}
