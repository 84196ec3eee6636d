//! The registry on AWS IoT: things, thing types, thing groups and search through aws-sdk-iot,
//! shadows through the IoT data plane (aws-sdk-iotdataplane).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_iot::types as iot;
use models::ids::{ShadowName, ThingGroupName, ThingName, ThingTypeName};
use models::query::Query;
use models::registry::{
    Attributes, CreateDynamicThingGroup, CreateThing, CreateThingGroup, CreateThingType, Created,
    DynamicGroupQuery, GroupFilter, GroupNameAndArn, Thing, ThingDocument, ThingFilter, ThingGroup,
    ThingGroupMetadata, ThingGroupProperties, ThingSummary, ThingType, ThingTypeChange,
    ThingTypeMetadata, ThingTypeProperties, UpdateDynamicThingGroup, UpdateThing, UpdateThingGroup,
    INDEX_NAME,
};
use models::shadow::{ShadowDocument, ShadowUpdate};
use models::{DomainError, Page, PageRequest, Registry, Result};

use crate::convert::{self, required, required_timestamp, timestamp};
use crate::error::map_sdk_error;
use crate::{arn_or, named, next, page_size, paged, parse_id, refused, token, AwsIot};

fn attribute_map(attributes: &Attributes) -> HashMap<String, String> {
    attributes
        .as_map()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn attribute_payload(attributes: &Attributes, merge: bool) -> iot::AttributePayload {
    iot::AttributePayload::builder()
        .set_attributes(Some(attribute_map(attributes)))
        .merge(merge)
        .build()
}

fn group_properties(
    description: Option<String>,
    attributes: Option<&Attributes>,
    merge: bool,
) -> iot::ThingGroupProperties {
    iot::ThingGroupProperties::builder()
        .set_thing_group_description(description)
        .set_attribute_payload(attributes.map(|a| attribute_payload(a, merge)))
        .build()
}

fn thing_missing(name: &ThingName) -> impl FnOnce() -> String + '_ {
    move || format!("thing {:?} does not exist", name.as_str())
}

fn group_missing(name: &ThingGroupName) -> impl FnOnce() -> String + '_ {
    move || format!("thing group {:?} does not exist", name.as_str())
}

fn type_missing(name: &ThingTypeName) -> impl FnOnce() -> String + '_ {
    move || format!("thing type {:?} does not exist", name.as_str())
}

fn shadow_missing<'a>(
    thing: &'a ThingName,
    shadow: Option<&'a ShadowName>,
) -> impl FnOnce() -> String + 'a {
    move || match shadow {
        Some(name) => format!(
            "thing {:?} has no shadow named {:?}",
            thing.as_str(),
            name.as_str()
        ),
        None => format!("thing {:?} has no classic shadow", thing.as_str()),
    }
}

/// A shadow payload AWS returned, as JSON.
fn payload_json(
    bytes: Option<&aws_smithy_types::Blob>,
    operation: &str,
) -> Result<serde_json::Value> {
    let bytes = required(bytes, operation, "payload")?;
    serde_json::from_slice(bytes.as_ref()).map_err(|e| {
        DomainError::Internal(format!(
            "{operation}: AWS IoT returned a payload that is not JSON: {e}"
        ))
    })
}

impl AwsIot {
    fn group_names(
        &self,
        groups: &[iot::GroupNameAndArn],
        operation: &str,
    ) -> Result<Vec<GroupNameAndArn>> {
        let mut items = Vec::with_capacity(groups.len());
        for g in groups {
            let group_name = parse_id(
                ThingGroupName::parse(required(g.group_name(), operation, "groupName")?),
                operation,
            )?;
            items.push(GroupNameAndArn {
                group_arn: arn_or(g.group_arn(), || self.location.thing_group_arn(&group_name)),
                group_name,
            });
        }
        Ok(items)
    }

    fn thing_type(
        &self,
        name: &str,
        properties: Option<&iot::ThingTypeProperties>,
        metadata: Option<&iot::ThingTypeMetadata>,
        operation: &str,
    ) -> Result<ThingType> {
        let name = parse_id(ThingTypeName::parse(name), operation)?;
        let metadata = required(metadata, operation, "thingTypeMetadata")?;
        Ok(ThingType {
            thing_type_arn: self.location.thing_type_arn(&name),
            thing_type_name: name,
            thing_type_id: None,
            thing_type_properties: ThingTypeProperties {
                thing_type_description: properties
                    .and_then(|p| p.thing_type_description())
                    .map(str::to_owned),
                searchable_attributes: properties
                    .map(|p| p.searchable_attributes().to_vec())
                    .unwrap_or_default(),
            },
            thing_type_metadata: ThingTypeMetadata {
                deprecated: metadata.deprecated(),
                deprecation_date: metadata.deprecation_date().map(timestamp),
                creation_date: required_timestamp(
                    metadata.creation_date(),
                    operation,
                    "creationDate",
                )?,
            },
        })
    }
}

#[async_trait]
impl Registry for AwsIot {
    async fn create_thing(&self, thing: CreateThing) -> Result<Created> {
        const OP: &str = "CreateThing";
        let output = self
            .iot()
            .await?
            .create_thing()
            .thing_name(thing.thing_name.as_str())
            .set_thing_type_name(
                thing
                    .thing_type_name
                    .as_ref()
                    .map(|t| t.as_str().to_owned()),
            )
            .attribute_payload(attribute_payload(&thing.attributes, false))
            .send()
            .await
            .map_err(|e| match map_sdk_error(OP, e) {
                DomainError::AlreadyExists(_) => DomainError::AlreadyExists(format!(
                    "thing {:?} already exists with different attributes or thing type",
                    thing.thing_name.as_str()
                )),
                DomainError::NotFound(message) => {
                    DomainError::NotFound(match &thing.thing_type_name {
                        Some(t) => {
                            format!("thingTypeName: thing type {:?} does not exist", t.as_str())
                        }
                        None => format!(
                            "thing {:?}: AWS IoT found no resource it names: {message}",
                            thing.thing_name.as_str()
                        ),
                    })
                }
                other => other,
            })?;
        Ok(Created {
            name: thing.thing_name.to_string(),
            id: required(output.thing_id(), OP, "thingId")?.to_owned(),
            arn: arn_or(output.thing_arn(), || {
                self.location.thing_arn(&thing.thing_name)
            }),
        })
    }

    async fn describe_thing(&self, name: &ThingName) -> Result<Thing> {
        const OP: &str = "DescribeThing";
        let t = self
            .iot()
            .await?
            .describe_thing()
            .thing_name(name.as_str())
            .send()
            .await
            .map_err(|e| {
                refused(
                    "thingName",
                    named(map_sdk_error(OP, e), thing_missing(name)),
                )
            })?;
        Ok(Thing {
            thing_name: name.clone(),
            thing_id: required(t.thing_id(), OP, "thingId")?.to_owned(),
            thing_arn: arn_or(t.thing_arn(), || self.location.thing_arn(name)),
            thing_type_name: t
                .thing_type_name()
                .map(|n| parse_id(ThingTypeName::parse(n), OP))
                .transpose()?,
            attributes: convert::sorted(t.attributes()),
            version: t.version(),
        })
    }

    async fn list_things(
        &self,
        filter: ThingFilter,
        page: PageRequest,
    ) -> Result<Page<ThingSummary>> {
        const OP: &str = "ListThings";
        let (attribute_name, attribute_value) = filter.attribute.unzip();
        let output = self
            .iot()
            .await?
            .list_things()
            .set_thing_type_name(filter.thing_type_name.map(String::from))
            .set_attribute_name(attribute_name)
            .set_attribute_value(attribute_value)
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(map_sdk_error(OP, e)))?;
        let mut items = Vec::with_capacity(output.things().len());
        for t in output.things() {
            let name = parse_id(
                ThingName::parse(required(t.thing_name(), OP, "thingName")?),
                OP,
            )?;
            items.push(ThingSummary {
                thing_arn: arn_or(t.thing_arn(), || self.location.thing_arn(&name)),
                thing_name: name,
                thing_type_name: t
                    .thing_type_name()
                    .map(|n| parse_id(ThingTypeName::parse(n), OP))
                    .transpose()?,
                attributes: convert::sorted(t.attributes()),
                version: t.version(),
            });
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn update_thing(&self, name: &ThingName, update: UpdateThing) -> Result<()> {
        self.iot()
            .await?
            .update_thing()
            .thing_name(name.as_str())
            .set_thing_type_name(match &update.thing_type {
                ThingTypeChange::Set(name) => Some(name.as_str().to_owned()),
                ThingTypeChange::Keep | ThingTypeChange::Remove => None,
            })
            .remove_thing_type(update.thing_type == ThingTypeChange::Remove)
            .set_attribute_payload(
                update
                    .attributes
                    .as_ref()
                    .map(|a| attribute_payload(a, update.merge)),
            )
            .set_expected_version(update.expected_version)
            .send()
            .await
            .map_err(|e| {
                named(map_sdk_error("UpdateThing", e), || {
                    match &update.thing_type {
                        ThingTypeChange::Set(t) => format!(
                            "thing {:?} or thing type {:?} does not exist",
                            name.as_str(),
                            t.as_str()
                        ),
                        ThingTypeChange::Keep | ThingTypeChange::Remove => {
                            format!("thing {:?} does not exist", name.as_str())
                        }
                    }
                })
            })?;
        Ok(())
    }

    async fn delete_thing(&self, name: &ThingName, expected_version: Option<i64>) -> Result<()> {
        match self
            .iot()
            .await?
            .delete_thing()
            .thing_name(name.as_str())
            .set_expected_version(expected_version)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match map_sdk_error("DeleteThing", e) {
                // AWS documents DeleteThing of a missing thing as a success; some endpoints say 404.
                DomainError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list_thing_groups_for_thing(
        &self,
        name: &ThingName,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>> {
        const OP: &str = "ListThingGroupsForThing";
        let output = self
            .iot()
            .await?
            .list_thing_groups_for_thing()
            .thing_name(name.as_str())
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(named(map_sdk_error(OP, e), thing_missing(name))))?;
        Ok(Page {
            items: self.group_names(output.thing_groups(), OP)?,
            next_token: next(output.next_token()),
        })
    }

    async fn search_things(&self, query: &Query, page: PageRequest) -> Result<Page<ThingDocument>> {
        const OP: &str = "SearchIndex";
        let output = self
            .iot()
            .await?
            .search_index()
            .index_name(INDEX_NAME)
            .query_string(query.as_str())
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            // AWS's ResourceNotFound here is the index, before a refused token (also a 404).
            .map_err(|e| match map_sdk_error(OP, e) {
                DomainError::NotFound(_) => DomainError::Conflict(
                    "AWS IoT fleet indexing is off in this account and region: turn on thing indexing to search".into(),
                ),
                other => paged(other),
            })?;
        let mut items = Vec::with_capacity(output.things().len());
        for t in output.things() {
            let shadow = t
                .shadow()
                .map(|s| {
                    serde_json::from_str(s).map_err(|e| {
                        DomainError::Internal(format!(
                            "{OP}: AWS IoT returned a shadow that is not JSON: {e}"
                        ))
                    })
                })
                .transpose()?;
            let mut groups = t.thing_group_names().to_vec();
            groups.sort();
            items.push(ThingDocument {
                thing_name: parse_id(
                    ThingName::parse(required(t.thing_name(), OP, "thingName")?),
                    OP,
                )?,
                thing_id: required(t.thing_id(), OP, "thingId")?.to_owned(),
                thing_type_name: t
                    .thing_type_name()
                    .map(|n| parse_id(ThingTypeName::parse(n), OP))
                    .transpose()?,
                thing_group_names: groups,
                attributes: convert::sorted(t.attributes()),
                shadow,
            });
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn create_thing_type(&self, thing_type: CreateThingType) -> Result<Created> {
        const OP: &str = "CreateThingType";
        let name = &thing_type.thing_type_name;
        let properties = iot::ThingTypeProperties::builder()
            .set_thing_type_description(thing_type.thing_type_description.clone().map(String::from))
            .set_searchable_attributes(Some(thing_type.searchable_attributes.clone()))
            .build();
        let output = self
            .iot()
            .await?
            .create_thing_type()
            .thing_type_name(name.as_str())
            .thing_type_properties(properties)
            .send()
            .await
            .map_err(|e| {
                named(map_sdk_error(OP, e), || {
                    format!(
                        "thing type {:?} already exists with different properties",
                        name.as_str()
                    )
                })
            })?;
        Ok(Created {
            name: name.to_string(),
            id: required(output.thing_type_id(), OP, "thingTypeId")?.to_owned(),
            arn: arn_or(output.thing_type_arn(), || {
                self.location.thing_type_arn(name)
            }),
        })
    }

    async fn describe_thing_type(&self, name: &ThingTypeName) -> Result<ThingType> {
        const OP: &str = "DescribeThingType";
        let t = self
            .iot()
            .await?
            .describe_thing_type()
            .thing_type_name(name.as_str())
            .send()
            .await
            .map_err(|e| {
                refused(
                    "thingTypeName",
                    named(map_sdk_error(OP, e), type_missing(name)),
                )
            })?;
        let mut thing_type = self.thing_type(
            t.thing_type_name().unwrap_or(name.as_str()),
            t.thing_type_properties(),
            t.thing_type_metadata(),
            OP,
        )?;
        thing_type.thing_type_id = Some(required(t.thing_type_id(), OP, "thingTypeId")?.to_owned());
        if let Some(arn) = t.thing_type_arn() {
            thing_type.thing_type_arn = arn.to_owned();
        }
        Ok(thing_type)
    }

    async fn list_thing_types(
        &self,
        name: Option<ThingTypeName>,
        page: PageRequest,
    ) -> Result<Page<ThingType>> {
        const OP: &str = "ListThingTypes";
        let output = self
            .iot()
            .await?
            .list_thing_types()
            .set_thing_type_name(name.map(String::from))
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(map_sdk_error(OP, e)))?;
        let mut items = Vec::with_capacity(output.thing_types().len());
        for t in output.thing_types() {
            let mut thing_type = self.thing_type(
                required(t.thing_type_name(), OP, "thingTypeName")?,
                t.thing_type_properties(),
                t.thing_type_metadata(),
                OP,
            )?;
            if let Some(arn) = t.thing_type_arn() {
                thing_type.thing_type_arn = arn.to_owned();
            }
            items.push(thing_type);
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn deprecate_thing_type(&self, name: &ThingTypeName, undo: bool) -> Result<()> {
        self.iot()
            .await?
            .deprecate_thing_type()
            .thing_type_name(name.as_str())
            .undo_deprecate(undo)
            .send()
            .await
            .map_err(|e| named(map_sdk_error("DeprecateThingType", e), type_missing(name)))?;
        Ok(())
    }

    async fn delete_thing_type(&self, name: &ThingTypeName) -> Result<()> {
        // What AWS refuses here (not deprecated, deprecated too recently, still used) is an
        // InvalidRequest, which maps to a Conflict carrying AWS's reason, as the emulator's 409.
        self.iot()
            .await?
            .delete_thing_type()
            .thing_type_name(name.as_str())
            .send()
            .await
            .map_err(|e| named(map_sdk_error("DeleteThingType", e), type_missing(name)))?;
        Ok(())
    }

    async fn create_thing_group(&self, group: CreateThingGroup) -> Result<Created> {
        const OP: &str = "CreateThingGroup";
        let parent = group
            .parent_group_name
            .as_ref()
            .map(|p| p.as_str().to_owned());
        let properties = group_properties(
            group.thing_group_description.clone().map(String::from),
            Some(&group.attributes).filter(|a| !a.is_empty()),
            false,
        );
        let output = self
            .iot()
            .await?
            .create_thing_group()
            .thing_group_name(group.thing_group_name.as_str())
            .set_parent_group_name(parent.clone())
            .thing_group_properties(properties)
            .send()
            .await
            .map_err(|e| match map_sdk_error(OP, e) {
                DomainError::AlreadyExists(_) => DomainError::AlreadyExists(format!(
                    "thing group {:?} already exists with a different parent, description or attributes",
                    group.thing_group_name.as_str()
                )),
                DomainError::NotFound(_) => DomainError::NotFound(format!(
                    "parentGroupName: thing group {:?} does not exist",
                    parent.as_deref().unwrap_or_default()
                )),
                other => other,
            })?;
        Ok(Created {
            name: group.thing_group_name.to_string(),
            id: required(output.thing_group_id(), OP, "thingGroupId")?.to_owned(),
            arn: arn_or(output.thing_group_arn(), || {
                self.location.thing_group_arn(&group.thing_group_name)
            }),
        })
    }

    async fn describe_thing_group(&self, name: &ThingGroupName) -> Result<ThingGroup> {
        const OP: &str = "DescribeThingGroup";
        let g = self
            .iot()
            .await?
            .describe_thing_group()
            .thing_group_name(name.as_str())
            .send()
            .await
            .map_err(|e| {
                refused(
                    "thingGroupName",
                    named(map_sdk_error(OP, e), group_missing(name)),
                )
            })?;
        let metadata = required(g.thing_group_metadata(), OP, "thingGroupMetadata")?;
        let properties = g.thing_group_properties();
        let dynamic = g.query_string().map(|query_string| DynamicGroupQuery {
            index_name: g.index_name().unwrap_or(INDEX_NAME).to_owned(),
            query_string: query_string.to_owned(),
            query_version: g
                .query_version()
                .unwrap_or(models::registry::QUERY_VERSION)
                .to_owned(),
            status: g.status().map_or("ACTIVE", |s| s.as_str()).to_owned(),
        });
        Ok(ThingGroup {
            thing_group_name: name.clone(),
            thing_group_id: required(g.thing_group_id(), OP, "thingGroupId")?.to_owned(),
            thing_group_arn: arn_or(g.thing_group_arn(), || self.location.thing_group_arn(name)),
            version: g.version(),
            thing_group_properties: ThingGroupProperties {
                thing_group_description: properties
                    .and_then(|p| p.thing_group_description())
                    .map(str::to_owned),
                attributes: convert::sorted(
                    properties
                        .and_then(|p| p.attribute_payload())
                        .and_then(|a| a.attributes()),
                ),
            },
            thing_group_metadata: ThingGroupMetadata {
                parent_group_name: metadata
                    .parent_group_name()
                    .map(|p| parse_id(ThingGroupName::parse(p), OP))
                    .transpose()?,
                root_to_parent_thing_groups: self
                    .group_names(metadata.root_to_parent_thing_groups(), OP)?,
                creation_date: required_timestamp(metadata.creation_date(), OP, "creationDate")?,
            },
            dynamic,
        })
    }

    async fn list_thing_groups(
        &self,
        filter: GroupFilter,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>> {
        const OP: &str = "ListThingGroups";
        let parent = filter.parent_group.as_ref().map(|p| p.as_str().to_owned());
        let output = self
            .iot()
            .await?
            .list_thing_groups()
            .set_name_prefix_filter(filter.name_prefix)
            .set_parent_group(parent.clone())
            .recursive(filter.recursive)
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| {
                paged(named(map_sdk_error(OP, e), || {
                    format!(
                        "parentGroup: thing group {:?} does not exist",
                        parent.as_deref().unwrap_or_default()
                    )
                }))
            })?;
        Ok(Page {
            items: self.group_names(output.thing_groups(), OP)?,
            next_token: next(output.next_token()),
        })
    }

    async fn update_thing_group(
        &self,
        name: &ThingGroupName,
        update: UpdateThingGroup,
    ) -> Result<i64> {
        let output = self
            .iot()
            .await?
            .update_thing_group()
            .thing_group_name(name.as_str())
            .thing_group_properties(group_properties(
                update.thing_group_description.map(String::from),
                update.attributes.as_ref(),
                update.merge,
            ))
            .set_expected_version(update.expected_version)
            .send()
            .await
            .map_err(|e| named(map_sdk_error("UpdateThingGroup", e), group_missing(name)))?;
        Ok(output.version())
    }

    async fn delete_thing_group(
        &self,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.iot()
            .await?
            .delete_thing_group()
            .thing_group_name(name.as_str())
            .set_expected_version(expected_version)
            .send()
            .await
            .map_err(|e| map_sdk_error("DeleteThingGroup", e))?;
        Ok(())
    }

    async fn add_thing_to_thing_group(
        &self,
        group: &ThingGroupName,
        thing: &ThingName,
    ) -> Result<()> {
        self.iot()
            .await?
            .add_thing_to_thing_group()
            .thing_group_name(group.as_str())
            .thing_name(thing.as_str())
            .send()
            .await
            .map_err(|e| {
                named(map_sdk_error("AddThingToThingGroup", e), || {
                    format!(
                        "thing group {:?} or thing {:?} does not exist",
                        group.as_str(),
                        thing.as_str()
                    )
                })
            })?;
        Ok(())
    }

    async fn remove_thing_from_thing_group(
        &self,
        group: &ThingGroupName,
        thing: &ThingName,
    ) -> Result<()> {
        self.iot()
            .await?
            .remove_thing_from_thing_group()
            .thing_group_name(group.as_str())
            .thing_name(thing.as_str())
            .send()
            .await
            .map_err(|e| {
                named(map_sdk_error("RemoveThingFromThingGroup", e), || {
                    format!(
                        "thing group {:?} or thing {:?} does not exist",
                        group.as_str(),
                        thing.as_str()
                    )
                })
            })?;
        Ok(())
    }

    async fn list_things_in_thing_group(
        &self,
        group: &ThingGroupName,
        recursive: bool,
        page: PageRequest,
    ) -> Result<Page<ThingName>> {
        const OP: &str = "ListThingsInThingGroup";
        let output = self
            .iot()
            .await?
            .list_things_in_thing_group()
            .thing_group_name(group.as_str())
            .recursive(recursive)
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(named(map_sdk_error(OP, e), group_missing(group))))?;
        let items = output
            .things()
            .iter()
            .map(|name| parse_id(ThingName::parse(name.clone()), OP))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn create_dynamic_thing_group(&self, group: CreateDynamicThingGroup) -> Result<Created> {
        const OP: &str = "CreateDynamicThingGroup";
        let output = self
            .iot()
            .await?
            .create_dynamic_thing_group()
            .thing_group_name(group.thing_group_name.as_str())
            .index_name(INDEX_NAME)
            .query_string(group.query.as_str())
            .thing_group_properties(group_properties(
                group.thing_group_description.clone().map(String::from),
                Some(&group.attributes).filter(|a| !a.is_empty()),
                false,
            ))
            .send()
            .await
            .map_err(|e| match map_sdk_error(OP, e) {
                DomainError::AlreadyExists(_) => DomainError::AlreadyExists(format!(
                    "thing group {:?} already exists with a different query, description or attributes",
                    group.thing_group_name.as_str()
                )),
                DomainError::NotFound(_) => DomainError::Conflict(
                    "AWS IoT fleet indexing is off in this account and region: turn on thing indexing for dynamic groups".into(),
                ),
                other => other,
            })?;
        Ok(Created {
            name: group.thing_group_name.to_string(),
            id: required(output.thing_group_id(), OP, "thingGroupId")?.to_owned(),
            arn: arn_or(output.thing_group_arn(), || {
                self.location.thing_group_arn(&group.thing_group_name)
            }),
        })
    }

    async fn update_dynamic_thing_group(
        &self,
        name: &ThingGroupName,
        update: UpdateDynamicThingGroup,
    ) -> Result<i64> {
        let properties = update.properties;
        let output = self
            .iot()
            .await?
            .update_dynamic_thing_group()
            .thing_group_name(name.as_str())
            .thing_group_properties(group_properties(
                properties.thing_group_description.map(String::from),
                properties.attributes.as_ref(),
                properties.merge,
            ))
            .set_query_string(update.query.map(|q| q.as_str().to_owned()))
            .set_expected_version(properties.expected_version)
            .send()
            .await
            .map_err(|e| {
                named(
                    map_sdk_error("UpdateDynamicThingGroup", e),
                    group_missing(name),
                )
            })?;
        Ok(output.version())
    }

    async fn delete_dynamic_thing_group(
        &self,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.iot()
            .await?
            .delete_dynamic_thing_group()
            .thing_group_name(name.as_str())
            .set_expected_version(expected_version)
            .send()
            .await
            .map_err(|e| map_sdk_error("DeleteDynamicThingGroup", e))?;
        Ok(())
    }

    async fn get_shadow(
        &self,
        thing: &ThingName,
        shadow: Option<&ShadowName>,
    ) -> Result<ShadowDocument> {
        const OP: &str = "GetThingShadow";
        let output = self
            .shadows()
            .await?
            .get_thing_shadow()
            .thing_name(thing.as_str())
            .set_shadow_name(shadow.map(|s| s.as_str().to_owned()))
            .send()
            .await
            .map_err(|e| {
                refused(
                    "thingName",
                    named(map_sdk_error(OP, e), shadow_missing(thing, shadow)),
                )
            })?;
        serde_json::from_value(payload_json(output.payload(), OP)?).map_err(|e| {
            DomainError::Internal(format!(
                "{OP}: AWS IoT returned a shadow of another shape: {e}"
            ))
        })
    }

    async fn update_shadow(
        &self,
        thing: &ThingName,
        shadow: Option<&ShadowName>,
        update: ShadowUpdate,
    ) -> Result<i64> {
        const OP: &str = "UpdateThingShadow";
        let payload = serde_json::to_vec(&update.to_payload())
            .map_err(|e| DomainError::Internal(format!("{OP}: {e}")))?;
        let output = self
            .shadows()
            .await?
            .update_thing_shadow()
            .thing_name(thing.as_str())
            .set_shadow_name(shadow.map(|s| s.as_str().to_owned()))
            .payload(aws_smithy_types::Blob::new(payload))
            .send()
            .await
            .map_err(|e| match map_sdk_error(OP, e) {
                // The shadow service's ConflictException is its version conflict.
                DomainError::AlreadyExists(message) => DomainError::VersionConflict(format!(
                    "expectedVersion {} does not match the shadow's version ({message})",
                    update.expected_version.unwrap_or_default()
                )),
                other => other,
            })?;
        let reply = payload_json(output.payload(), OP)?;
        reply["version"]
            .as_i64()
            .ok_or_else(|| DomainError::Internal(format!("{OP}: AWS IoT returned no version")))
    }

    async fn delete_shadow(&self, thing: &ThingName, shadow: Option<&ShadowName>) -> Result<()> {
        self.shadows()
            .await?
            .delete_thing_shadow()
            .thing_name(thing.as_str())
            .set_shadow_name(shadow.map(|s| s.as_str().to_owned()))
            .send()
            .await
            .map_err(|e| {
                named(
                    map_sdk_error("DeleteThingShadow", e),
                    shadow_missing(thing, shadow),
                )
            })?;
        Ok(())
    }

    async fn list_named_shadows(
        &self,
        thing: &ThingName,
        page: PageRequest,
    ) -> Result<Page<ShadowName>> {
        const OP: &str = "ListNamedShadowsForThing";
        // The shadow service pages by at most 100.
        let output = self
            .shadows()
            .await?
            .list_named_shadows_for_thing()
            .thing_name(thing.as_str())
            .page_size(page_size(&page).min(100))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(named(map_sdk_error(OP, e), thing_missing(thing))))?;
        let items = output
            .results()
            .iter()
            .map(|name| parse_id(ShadowName::parse(name.clone()), OP))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }
}
