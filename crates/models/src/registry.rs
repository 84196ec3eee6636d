//! The thing registry: things, thing types, thing groups (static and dynamic), membership and
//! search results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::DomainError;
use crate::fields::Text;
use crate::ids::{ThingGroupName, ThingName, ThingTypeName};
use crate::query::Query;

/// Thing or thing group attributes: at most 50 (3 for a thing without a thing type, checked
/// where the type is known), names 1 to 128 of `[a-zA-Z0-9_.,@/:#-]`, values up to 800 of
/// `[a-zA-Z0-9_.,@/:#=[]-]`. In an update, an empty value removes the attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    pub const MAX_WITHOUT_TYPE: usize = 3;
    pub const MAX: usize = 50;

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The refusal of more attributes than a thing without a thing type may have.
    pub fn untyped_limit_error() -> DomainError {
        DomainError::validation(
            "attributes",
            format!(
                "a thing without a thing type has at most {} attributes",
                Self::MAX_WITHOUT_TYPE
            ),
        )
    }

    /// `current` after this update: merged into it or replacing it; empty values remove.
    pub fn applied_to(
        &self,
        current: &BTreeMap<String, String>,
        merge: bool,
    ) -> BTreeMap<String, String> {
        let mut result = if merge {
            current.clone()
        } else {
            BTreeMap::new()
        };
        for (name, value) in &self.0 {
            if value.is_empty() {
                result.remove(name);
            } else {
                result.insert(name.clone(), value.clone());
            }
        }
        result
    }
}

/// Checks an attribute name: 1 to 128 of `[a-zA-Z0-9_.,@/:#-]`.
pub fn check_attribute_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name {name:?} must be 1 to 128 of [a-zA-Z0-9_.,@/:#-]"
        ))
    }
}

/// Checks an attribute value: at most 800 of `[a-zA-Z0-9_.,@/:#=[]-]`.
pub fn check_attribute_value(name: &str, value: &str) -> Result<(), String> {
    let ok = value.len() <= 800
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "value of {name:?} must be at most 800 of [a-zA-Z0-9_.,@/:#=\\[\\]-]"
        ))
    }
}

impl TryFrom<BTreeMap<String, String>> for Attributes {
    type Error = String;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, String> {
        if map.len() > Self::MAX {
            return Err(format!("at most {} attributes", Self::MAX));
        }
        for (name, value) in &map {
            check_attribute_name(name)?;
            check_attribute_value(name, value)?;
        }
        Ok(Attributes(map))
    }
}

impl From<Attributes> for BTreeMap<String, String> {
    fn from(value: Attributes) -> Self {
        value.0
    }
}

/// Body of `POST /things`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateThing {
    pub thing_name: ThingName,
    pub thing_type_name: Option<ThingTypeName>,
    #[serde(default)]
    pub attributes: Attributes,
}

impl CreateThing {
    /// The rules between fields: more than 3 attributes need a thing type.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.thing_type_name.is_none() && self.attributes.len() > Attributes::MAX_WITHOUT_TYPE {
            return Err(Attributes::untyped_limit_error());
        }
        Ok(())
    }
}

/// Body of `PUT /things/{thingName}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateThing {
    /// A name sets the thing's type, `null` removes it, and leaving it out keeps it: one field,
    /// so no two fields can contradict each other.
    #[serde(default, rename = "thingTypeName")]
    pub thing_type: ThingTypeChange,
    pub attributes: Option<Attributes>,
    /// Merge `attributes` into the thing's (true) or replace them (false, the default).
    #[serde(default)]
    pub merge: bool,
    pub expected_version: Option<i64>,
}

/// What an update does to a thing's type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ThingTypeChange {
    #[default]
    Keep,
    Set(ThingTypeName),
    Remove,
}

impl<'de> Deserialize<'de> for ThingTypeChange {
    /// Called only when the field is present: `null` removes, a name sets.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<ThingTypeName>::deserialize(deserializer)? {
            Some(name) => ThingTypeChange::Set(name),
            None => ThingTypeChange::Remove,
        })
    }
}

/// The filters of `GET /things`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThingFilter {
    pub thing_type_name: Option<ThingTypeName>,
    /// An attribute's name and value, both required together.
    pub attribute: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thing {
    pub thing_name: ThingName,
    pub thing_id: String,
    pub thing_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_type_name: Option<ThingTypeName>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingSummary {
    pub thing_name: ThingName,
    pub thing_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_type_name: Option<ThingTypeName>,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
}

/// What a create returns for things, thing types and thing groups: the id and ARN the service
/// gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub name: String,
    pub id: String,
    pub arn: String,
}

/// Most searchable attributes a thing type may name.
pub const MAX_SEARCHABLE_ATTRIBUTES: usize = 3;

/// Body of `POST /thing-types`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateThingType {
    pub thing_type_name: ThingTypeName,
    pub thing_type_description: Option<Text>,
    #[serde(default)]
    pub searchable_attributes: Vec<String>,
}

impl CreateThingType {
    pub fn validate(&self) -> Result<(), DomainError> {
        let field = "searchableAttributes";
        if self.searchable_attributes.len() > MAX_SEARCHABLE_ATTRIBUTES {
            return Err(DomainError::validation(
                field,
                format!("at most {MAX_SEARCHABLE_ATTRIBUTES} names"),
            ));
        }
        for name in &self.searchable_attributes {
            check_attribute_name(name).map_err(|rule| DomainError::validation(field, rule))?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingTypeProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_type_description: Option<String>,
    pub searchable_attributes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingTypeMetadata {
    pub deprecated: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deprecation_date: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
}

/// A thing type as DescribeThingType gives it (ListThingTypes gives the same without the id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingType {
    pub thing_type_name: ThingTypeName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_type_id: Option<String>,
    pub thing_type_arn: String,
    pub thing_type_properties: ThingTypeProperties,
    pub thing_type_metadata: ThingTypeMetadata,
}

/// Body of `POST /thing-groups`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateThingGroup {
    pub thing_group_name: ThingGroupName,
    pub parent_group_name: Option<ThingGroupName>,
    pub thing_group_description: Option<Text>,
    #[serde(default)]
    pub attributes: Attributes,
}

/// Body of `PUT /thing-groups/{thingGroupName}`: what changes. An update that changes nothing is
/// accepted.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateThingGroup {
    pub thing_group_description: Option<Text>,
    pub attributes: Option<Attributes>,
    #[serde(default)]
    pub merge: bool,
    pub expected_version: Option<i64>,
}

/// Body of `POST /dynamic-thing-groups`. The query is parsed by the handler, so that a query
/// outside the subset is an `InvalidQuery` rather than a validation error.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDynamicThingGroupBody {
    pub thing_group_name: ThingGroupName,
    pub query_string: String,
    pub thing_group_description: Option<Text>,
    #[serde(default)]
    pub attributes: Attributes,
}

pub struct CreateDynamicThingGroup {
    pub thing_group_name: ThingGroupName,
    pub query: Query,
    pub thing_group_description: Option<Text>,
    pub attributes: Attributes,
}

/// Body of `PUT /dynamic-thing-groups/{thingGroupName}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDynamicThingGroupBody {
    pub query_string: Option<String>,
    pub thing_group_description: Option<Text>,
    pub attributes: Option<Attributes>,
    #[serde(default)]
    pub merge: bool,
    pub expected_version: Option<i64>,
}

pub struct UpdateDynamicThingGroup {
    pub query: Option<Query>,
    pub properties: UpdateThingGroup,
}

/// Parses a query given in a request, as the `InvalidQuery` error a client gets.
pub fn parse_query(text: &str) -> Result<Query, DomainError> {
    Query::parse(text).map_err(|e| DomainError::InvalidQuery(format!("queryString: {e}")))
}

impl UpdateDynamicThingGroupBody {
    pub fn into_update(self) -> Result<UpdateDynamicThingGroup, DomainError> {
        let query = self.query_string.as_deref().map(parse_query).transpose()?;
        let properties = UpdateThingGroup {
            thing_group_description: self.thing_group_description,
            attributes: self.attributes,
            merge: self.merge,
            expected_version: self.expected_version,
        };
        Ok(UpdateDynamicThingGroup { query, properties })
    }
}

impl CreateDynamicThingGroupBody {
    pub fn into_create(self) -> Result<CreateDynamicThingGroup, DomainError> {
        Ok(CreateDynamicThingGroup {
            query: parse_query(&self.query_string)?,
            thing_group_name: self.thing_group_name,
            thing_group_description: self.thing_group_description,
            attributes: self.attributes,
        })
    }
}

/// The filters of `GET /thing-groups`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupFilter {
    pub name_prefix: Option<String>,
    pub parent_group: Option<ThingGroupName>,
    /// With `parent_group`: all descendants, not only children. Without it: every group (true,
    /// the default) or only root groups (false).
    pub recursive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupNameAndArn {
    pub group_name: ThingGroupName,
    pub group_arn: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroupProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_group_description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroupMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_group_name: Option<ThingGroupName>,
    /// The group's ancestors, root first.
    pub root_to_parent_thing_groups: Vec<GroupNameAndArn>,
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date: OffsetDateTime,
}

/// What only a dynamic thing group has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicGroupQuery {
    pub index_name: String,
    pub query_string: String,
    pub query_version: String,
    pub status: String,
}

/// The only index dynamic groups and search use, and its query version, as AWS IoT names them.
pub const INDEX_NAME: &str = "AWS_Things";
pub const QUERY_VERSION: &str = "2017-09-30";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroup {
    pub thing_group_name: ThingGroupName,
    pub thing_group_id: String,
    pub thing_group_arn: String,
    pub version: i64,
    pub thing_group_properties: ThingGroupProperties,
    pub thing_group_metadata: ThingGroupMetadata,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<DynamicGroupQuery>,
}

/// Most static groups a thing may belong to.
pub const MAX_GROUPS_PER_THING: usize = 10;

/// Most results one search page holds (AWS's limit).
pub const MAX_SEARCH_RESULTS: u32 = 100;

/// One thing in search results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingDocument {
    pub thing_name: ThingName,
    pub thing_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_type_name: Option<ThingTypeName>,
    pub thing_group_names: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    /// The classic shadow's `desired` and `reported` state, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<serde_json::Value>,
}
