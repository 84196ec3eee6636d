//! The thing registry as jobs need it: things, thing groups and group membership.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::fields::Text;
use crate::ids::{ThingGroupName, ThingName};

/// Thing attributes: at most 3 (AWS's limit for a thing without a thing type), names 1 to 128 of
/// `[a-zA-Z0-9_.,@/:#-]`, values up to 800 of `[a-zA-Z0-9_.,@/:#=[]-]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    pub const MAX_WITHOUT_TYPE: usize = 3;

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl TryFrom<BTreeMap<String, String>> for Attributes {
    type Error = String;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, String> {
        if map.len() > Self::MAX_WITHOUT_TYPE {
            return Err(format!(
                "a thing without a thing type has at most {} attributes",
                Self::MAX_WITHOUT_TYPE
            ));
        }
        for (name, value) in &map {
            let name_ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#-".contains(c));
            if !name_ok {
                return Err(format!(
                    "name {name:?} must be 1 to 128 of [a-zA-Z0-9_.,@/:#-]"
                ));
            }
            let value_ok = value.len() <= 800
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c));
            if !value_ok {
                return Err(format!(
                    "value of {name:?} must be at most 800 of [a-zA-Z0-9_.,@/:#=\\[\\]-]"
                ));
            }
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
    #[serde(default)]
    pub attributes: Attributes,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thing {
    pub thing_name: ThingName,
    pub thing_id: String,
    pub thing_arn: String,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingSummary {
    pub thing_name: ThingName,
    pub thing_arn: String,
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
}

/// What a create returns for things and thing groups: the id and ARN the service gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub name: String,
    pub id: String,
    pub arn: String,
}

/// Body of `POST /thing-groups`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateThingGroup {
    pub thing_group_name: ThingGroupName,
    pub parent_group_name: Option<ThingGroupName>,
    pub thing_group_description: Option<Text>,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroup {
    pub thing_group_name: ThingGroupName,
    pub thing_group_id: String,
    pub thing_group_arn: String,
    pub version: i64,
    pub thing_group_properties: ThingGroupProperties,
    pub thing_group_metadata: ThingGroupMetadata,
}

/// Most static groups a thing may belong to.
pub const MAX_GROUPS_PER_THING: usize = 10;
