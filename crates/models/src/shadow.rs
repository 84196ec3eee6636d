//! Device shadows, classic and named: the update a client sends, the document the service keeps,
//! and the rules that turn one into the other (merge, `null` deletes, delta, metadata, version).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::DomainError;

/// Largest `desired` plus `reported` state, in bytes of JSON (AWS IoT's 8 KB shadow state limit).
pub const MAX_STATE_BYTES: usize = 8 * 1024;
/// Deepest nesting of objects inside `desired` or `reported` (AWS IoT's limit).
pub const MAX_DEPTH: usize = 6;

/// Body of a shadow update. A section left out is unchanged; `null` clears it; an object is merged
/// into it, where a `null` value deletes that key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShadowUpdate {
    #[serde(default, deserialize_with = "present")]
    pub desired: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub reported: Option<Value>,
    /// The shadow's current version; the update is refused (409) when it differs.
    pub expected_version: Option<i64>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ShadowUpdate {
    /// The rules of the state itself. An update with neither section changes no state and is
    /// accepted, as AWS IoT accepts an empty `state`.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (field, section) in [("desired", &self.desired), ("reported", &self.reported)] {
            match section {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    if depth(map) > MAX_DEPTH {
                        return Err(DomainError::validation(
                            field,
                            format!("objects nest at most {MAX_DEPTH} levels deep"),
                        ));
                    }
                }
                Some(_) => return Err(DomainError::validation(field, "must be an object or null")),
            }
        }
        let size = state_size(self.desired.as_ref(), self.reported.as_ref());
        if size > MAX_STATE_BYTES {
            return Err(DomainError::validation(
                "desired",
                format!(
                    "desired and reported hold at most {MAX_STATE_BYTES} bytes of JSON, got {size}"
                ),
            ));
        }
        Ok(())
    }

    /// The update as AWS IoT's UpdateThingShadow payload.
    pub fn to_payload(&self) -> Value {
        let mut state = Map::new();
        if let Some(desired) = &self.desired {
            state.insert("desired".into(), desired.clone());
        }
        if let Some(reported) = &self.reported {
            state.insert("reported".into(), reported.clone());
        }
        let mut payload = Map::new();
        payload.insert("state".into(), Value::Object(state));
        if let Some(version) = self.expected_version {
            payload.insert("version".into(), version.into());
        }
        Value::Object(payload)
    }
}

fn depth(map: &Map<String, Value>) -> usize {
    1 + map
        .values()
        .map(|v| match v {
            Value::Object(inner) => depth(inner),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn state_size(desired: Option<&Value>, reported: Option<&Value>) -> usize {
    [desired, reported]
        .into_iter()
        .flatten()
        .map(|v| serde_json::to_vec(v).map_or(0, |b| b.len()))
        .sum()
}

/// A shadow as GetThingShadow returns it: state (with the computed delta), per-field metadata
/// timestamps, version and the time of the reply (seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShadowDocument {
    pub state: ShadowState,
    pub metadata: ShadowMetadata,
    pub version: i64,
    pub timestamp: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Map<String, Value>>,
    /// What `desired` asks that `reported` does not show yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Map<String, Value>>,
}

/// What a store keeps of a shadow: its sections, their metadata and its version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredShadow {
    pub desired: Option<Map<String, Value>>,
    pub reported: Option<Map<String, Value>>,
    pub desired_metadata: Option<Map<String, Value>>,
    pub reported_metadata: Option<Map<String, Value>>,
    pub version: i64,
}

impl StoredShadow {
    /// Applies an update made at `timestamp` (seconds); the version goes up by one. A shadow
    /// that does not exist yet is `StoredShadow::default()` (version 0).
    pub fn apply(&mut self, update: &ShadowUpdate, timestamp: i64) -> Result<(), DomainError> {
        if let Some(expected) = update.expected_version {
            if expected != self.version {
                return Err(DomainError::VersionConflict(format!(
                    "expectedVersion {expected} does not match the shadow's version {}",
                    self.version
                )));
            }
        }
        apply_section(
            &mut self.desired,
            &mut self.desired_metadata,
            update.desired.as_ref(),
            timestamp,
        );
        apply_section(
            &mut self.reported,
            &mut self.reported_metadata,
            update.reported.as_ref(),
            timestamp,
        );
        let size = state_size(
            self.desired.clone().map(Value::Object).as_ref(),
            self.reported.clone().map(Value::Object).as_ref(),
        );
        if size > MAX_STATE_BYTES {
            return Err(DomainError::validation(
                "desired",
                format!("the shadow's state would hold {size} bytes of JSON, more than {MAX_STATE_BYTES}"),
            ));
        }
        self.version += 1;
        Ok(())
    }

    /// The document a read returns at `timestamp`.
    pub fn document(&self, timestamp: i64) -> ShadowDocument {
        let delta = match (&self.desired, &self.reported) {
            (Some(desired), reported) => {
                Some(delta(desired, reported.as_ref())).filter(|d| !d.is_empty())
            }
            (None, _) => None,
        };
        ShadowDocument {
            state: ShadowState {
                desired: self.desired.clone(),
                reported: self.reported.clone(),
                delta,
            },
            metadata: ShadowMetadata {
                desired: self.desired_metadata.clone(),
                reported: self.reported_metadata.clone(),
            },
            version: self.version,
            timestamp,
        }
    }
}

fn apply_section(
    section: &mut Option<Map<String, Value>>,
    metadata: &mut Option<Map<String, Value>>,
    update: Option<&Value>,
    timestamp: i64,
) {
    match update {
        None => {}
        Some(Value::Object(patch)) => {
            let target = section.get_or_insert_with(Map::new);
            let meta = metadata.get_or_insert_with(Map::new);
            merge(target, meta, patch, timestamp);
            if target.is_empty() {
                *section = None;
                *metadata = None;
            }
        }
        Some(_) => {
            *section = None;
            *metadata = None;
        }
    }
}

fn merge(
    target: &mut Map<String, Value>,
    meta: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    timestamp: i64,
) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
                meta.remove(key);
            }
            Value::Object(inner) => {
                if !matches!(target.get(key), Some(Value::Object(_))) {
                    target.insert(key.clone(), Value::Object(Map::new()));
                    meta.insert(key.clone(), Value::Object(Map::new()));
                }
                if !matches!(meta.get(key), Some(Value::Object(_))) {
                    meta.insert(key.clone(), Value::Object(Map::new()));
                }
                if let (Some(Value::Object(t)), Some(Value::Object(m))) =
                    (target.get_mut(key), meta.get_mut(key))
                {
                    merge(t, m, inner, timestamp);
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
                meta.insert(key.clone(), leaf_metadata(other, timestamp));
            }
        }
    }
}

/// A value's metadata: `{"timestamp"}`, or one per element for an array.
fn leaf_metadata(value: &Value, timestamp: i64) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| leaf_metadata(i, timestamp)).collect())
        }
        _ => serde_json::json!({ "timestamp": timestamp }),
    }
}

/// The keys of `desired` whose values `reported` does not have, recursively into objects.
fn delta(
    desired: &Map<String, Value>,
    reported: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, wanted) in desired {
        let actual = reported.and_then(|r| r.get(key));
        match (wanted, actual) {
            (Value::Object(w), Some(Value::Object(a))) => {
                let inner = delta(w, Some(a));
                if !inner.is_empty() {
                    out.insert(key.clone(), Value::Object(inner));
                }
            }
            (w, Some(a)) if w == a => {}
            (w, _) => {
                out.insert(key.clone(), w.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn update(body: Value) -> ShadowUpdate {
        let update: ShadowUpdate = serde_json::from_value(body).unwrap();
        update.validate().unwrap();
        update
    }

    #[test]
    fn updates_merge_delete_and_compute_the_delta() {
        let mut shadow = StoredShadow::default();
        shadow
            .apply(
                &update(json!({"desired": {"color": "red", "light": {"level": 3}}})),
                100,
            )
            .unwrap();
        shadow
            .apply(
                &update(json!({"reported": {"color": "blue", "light": {"level": 3}, "fw": "1.0"}})),
                101,
            )
            .unwrap();
        let doc = shadow.document(102);
        assert_eq!(doc.version, 2);
        assert_eq!(
            doc.state.delta,
            Some(json!({"color": "red"}).as_object().unwrap().clone())
        );
        assert_eq!(
            serde_json::to_value(&doc.metadata).unwrap(),
            json!({"desired": {"color": {"timestamp": 100}, "light": {"level": {"timestamp": 100}}},
                   "reported": {"color": {"timestamp": 101}, "light": {"level": {"timestamp": 101}}, "fw": {"timestamp": 101}}})
        );
        shadow
            .apply(
                &update(json!({"reported": {"color": "red", "fw": null}, "desired": null})),
                103,
            )
            .unwrap();
        let doc = shadow.document(104);
        assert_eq!(
            serde_json::to_value(&doc.state).unwrap(),
            json!({"reported": {"color": "red", "light": {"level": 3}}})
        );
        assert_eq!(doc.version, 3);
    }

    #[test]
    fn an_expected_version_must_match() {
        let mut shadow = StoredShadow::default();
        shadow
            .apply(
                &update(json!({"reported": {"a": 1}, "expectedVersion": 0})),
                1,
            )
            .unwrap();
        let refused = shadow.apply(
            &update(json!({"reported": {"a": 2}, "expectedVersion": 0})),
            2,
        );
        assert!(matches!(refused, Err(DomainError::VersionConflict(_))));
        assert_eq!(shadow.version, 1);
    }

    #[test]
    fn bad_updates_name_the_field() {
        let invalid = |body: Value| {
            let update: ShadowUpdate = serde_json::from_value(body).unwrap();
            update.validate().unwrap_err().to_string()
        };
        assert!(invalid(json!({"reported": [1]})).starts_with("reported: must be an object"));
        let deep = json!({"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}});
        assert!(invalid(deep).contains("6 levels"));
        let big = json!({"reported": {"blob": "x".repeat(MAX_STATE_BYTES)}});
        assert!(invalid(big).contains("8192 bytes"));
    }
}
