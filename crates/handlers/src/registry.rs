//! Handlers of the thing, thing group and search operations.

use axum::extract::{Path, State};
use models::ids::{ThingGroupName, ThingTypeName};
use models::registry::{
    check_attribute_name, check_attribute_value, parse_query, CreateDynamicThingGroupBody,
    CreateThing, CreateThingGroup, GroupFilter, ThingFilter, UpdateDynamicThingGroupBody,
    UpdateThing, UpdateThingGroup, MAX_SEARCH_RESULTS,
};
use models::{DomainError, MaxResults, NextToken};
use serde::Deserialize;

use crate::error::HandlerResult;
use crate::extract::{self, thing_group_name as group_name, thing_name, Body, ListQuery, Query};
use crate::response::{
    list_response, ok, Created, Done, NewVersion, One, ThingGroupNames, ThingNames,
};
use crate::AppState;

pub async fn create_thing(
    State(backend): State<AppState>,
    Body(body): Body<CreateThing>,
) -> HandlerResult {
    let created = backend.create_thing(body).await?;
    Ok(ok(Created::new(ThingNames::from(created))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListThingsQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    thing_type_name: Option<ThingTypeName>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
}

pub async fn list_things(
    State(backend): State<AppState>,
    Query(q): Query<ListThingsQuery>,
) -> HandlerResult {
    let attribute = match (q.attribute_name, q.attribute_value) {
        (Some(name), Some(value)) => {
            check_attribute_name(&name)
                .map_err(|rule| DomainError::validation("attributeName", rule))?;
            check_attribute_value(&name, &value)
                .map_err(|rule| DomainError::validation("attributeValue", rule))?;
            Some((name, value))
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(
                DomainError::validation("attributeValue", "is required with attributeName").into(),
            )
        }
        (None, Some(_)) => {
            return Err(
                DomainError::validation("attributeName", "is required with attributeValue").into(),
            )
        }
    };
    let filter = ThingFilter {
        thing_type_name: q.thing_type_name,
        attribute,
    };
    let page = backend
        .list_things(filter, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("things", page))
}

pub async fn describe_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    let thing = backend.describe_thing(&thing_name(name)?).await?;
    Ok(ok(One::Thing(&thing)))
}

pub async fn update_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<UpdateThing>,
) -> HandlerResult {
    let name = thing_name(name)?;
    backend.update_thing(&name, body).await?;
    Ok(ok(Done::Updated))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default, deserialize_with = "extract::version_from_string")]
    expected_version: Option<i64>,
}

pub async fn delete_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> HandlerResult {
    backend
        .delete_thing(&thing_name(name)?, q.expected_version)
        .await?;
    Ok(ok(Done::Deleted))
}

pub async fn list_thing_groups_for_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
) -> HandlerResult {
    let page = backend
        .list_thing_groups_for_thing(&thing_name(name)?, q.into_page())
        .await?;
    Ok(list_response("thingGroups", page))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchQuery {
    query_string: Option<String>,
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
}

pub async fn search_things(
    State(backend): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> HandlerResult {
    let text = q
        .query_string
        .ok_or_else(|| DomainError::validation("queryString", "is required"))?;
    if q.max_results.is_some_and(|m| m.get() > MAX_SEARCH_RESULTS) {
        return Err(DomainError::validation(
            "maxResults",
            format!("a search page holds at most {MAX_SEARCH_RESULTS} things"),
        )
        .into());
    }
    let query = parse_query(&text)?;
    let page = backend
        .search_things(&query, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("things", page))
}

pub async fn create_thing_group(
    State(backend): State<AppState>,
    Body(body): Body<CreateThingGroup>,
) -> HandlerResult {
    let created = backend.create_thing_group(body).await?;
    Ok(ok(Created::new(ThingGroupNames::from(created))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListGroupsQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    name_prefix_filter: Option<ThingGroupName>,
    parent_group: Option<ThingGroupName>,
    #[serde(default, deserialize_with = "extract::bool_from_string")]
    recursive: Option<bool>,
}

pub async fn list_thing_groups(
    State(backend): State<AppState>,
    Query(q): Query<ListGroupsQuery>,
) -> HandlerResult {
    let filter = GroupFilter {
        name_prefix: q.name_prefix_filter.map(String::from),
        parent_group: q.parent_group,
        recursive: q.recursive.unwrap_or(true),
    };
    let page = backend
        .list_thing_groups(filter, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("thingGroups", page))
}

pub async fn describe_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    let group = backend.describe_thing_group(&group_name(name)?).await?;
    Ok(ok(One::ThingGroup(&group)))
}

pub async fn update_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<UpdateThingGroup>,
) -> HandlerResult {
    let name = group_name(name)?;
    let version = backend.update_thing_group(&name, body).await?;
    Ok(ok(NewVersion::new(version)))
}

pub async fn delete_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> HandlerResult {
    backend
        .delete_thing_group(&group_name(name)?, q.expected_version)
        .await?;
    Ok(ok(Done::Deleted))
}

pub async fn add_thing_to_thing_group(
    State(backend): State<AppState>,
    Path((group, thing)): Path<(String, String)>,
) -> HandlerResult {
    backend
        .add_thing_to_thing_group(&group_name(group)?, &thing_name(thing)?)
        .await?;
    Ok(ok(Done::Added))
}

pub async fn remove_thing_from_thing_group(
    State(backend): State<AppState>,
    Path((group, thing)): Path<(String, String)>,
) -> HandlerResult {
    backend
        .remove_thing_from_thing_group(&group_name(group)?, &thing_name(thing)?)
        .await?;
    Ok(ok(Done::Removed))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListMembersQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    #[serde(default, deserialize_with = "extract::bool_from_string")]
    recursive: Option<bool>,
}

pub async fn list_things_in_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ListMembersQuery>,
) -> HandlerResult {
    let group = group_name(name)?;
    let page = backend
        .list_things_in_thing_group(
            &group,
            q.recursive.unwrap_or(false),
            extract::page(q.max_results, q.next_token),
        )
        .await?;
    Ok(list_response("things", page))
}

pub async fn create_dynamic_thing_group(
    State(backend): State<AppState>,
    Body(body): Body<CreateDynamicThingGroupBody>,
) -> HandlerResult {
    let created = backend
        .create_dynamic_thing_group(body.into_create()?)
        .await?;
    Ok(ok(Created::new(ThingGroupNames::from(created))))
}

pub async fn update_dynamic_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<UpdateDynamicThingGroupBody>,
) -> HandlerResult {
    let name = group_name(name)?;
    let version = backend
        .update_dynamic_thing_group(&name, body.into_update()?)
        .await?;
    Ok(ok(NewVersion::new(version)))
}

pub async fn delete_dynamic_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> HandlerResult {
    backend
        .delete_dynamic_thing_group(&group_name(name)?, q.expected_version)
        .await?;
    Ok(ok(Done::Deleted))
}
