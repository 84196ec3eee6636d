//! Handlers of the thing and thing group operations that jobs need.

use axum::extract::{Path, State};
use models::ids::ThingGroupName;
use models::registry::{CreateThing, CreateThingGroup};
use models::{MaxResults, NextToken};
use serde::Deserialize;
use serde_json::json;

use crate::extract::{self, thing_group_name as group_name, thing_name, Body, Query};
use crate::jobs::list_response;
use crate::templates::ListQuery;
use crate::{ok, AppState, HandlerResult};

pub async fn create_thing(
    State(backend): State<AppState>,
    Body(body): Body<CreateThing>,
) -> HandlerResult {
    let created = backend.create_thing(body).await?;
    Ok(ok(
        json!({"created": true, "thingName": created.name, "thingId": created.id, "thingArn": created.arn}),
    ))
}

pub async fn list_things(
    State(backend): State<AppState>,
    Query(q): Query<ListQuery>,
) -> HandlerResult {
    let page = backend.list_things(q.into_page()).await?;
    Ok(list_response("things", page))
}

pub async fn describe_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    let thing = backend.describe_thing(&thing_name(name)?).await?;
    Ok(ok(json!({ "thing": thing })))
}

pub async fn delete_thing(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    backend.delete_thing(&thing_name(name)?).await?;
    Ok(ok(json!({"deleted": true})))
}

pub async fn create_thing_group(
    State(backend): State<AppState>,
    Body(body): Body<CreateThingGroup>,
) -> HandlerResult {
    let created = backend.create_thing_group(body).await?;
    Ok(ok(json!({
        "created": true,
        "thingGroupName": created.name,
        "thingGroupId": created.id,
        "thingGroupArn": created.arn,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListGroupsQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    name_prefix_filter: Option<ThingGroupName>,
}

pub async fn list_thing_groups(
    State(backend): State<AppState>,
    Query(q): Query<ListGroupsQuery>,
) -> HandlerResult {
    let prefix = q.name_prefix_filter.map(String::from);
    let page = backend
        .list_thing_groups(prefix, extract::page(q.max_results, q.next_token))
        .await?;
    Ok(list_response("thingGroups", page))
}

pub async fn describe_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    let group = backend.describe_thing_group(&group_name(name)?).await?;
    Ok(ok(json!({ "thingGroup": group })))
}

pub async fn delete_thing_group(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    backend.delete_thing_group(&group_name(name)?).await?;
    Ok(ok(json!({"deleted": true})))
}

pub async fn add_thing_to_thing_group(
    State(backend): State<AppState>,
    Path((group, thing)): Path<(String, String)>,
) -> HandlerResult {
    backend
        .add_thing_to_thing_group(&group_name(group)?, &thing_name(thing)?)
        .await?;
    Ok(ok(json!({"added": true})))
}

pub async fn remove_thing_from_thing_group(
    State(backend): State<AppState>,
    Path((group, thing)): Path<(String, String)>,
) -> HandlerResult {
    backend
        .remove_thing_from_thing_group(&group_name(group)?, &thing_name(thing)?)
        .await?;
    Ok(ok(json!({"removed": true})))
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
