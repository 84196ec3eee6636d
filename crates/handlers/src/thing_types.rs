//! Handlers of the thing type operations.

use axum::extract::{Path, State};
use models::ids::ThingTypeName;
use models::registry::CreateThingType;
use models::{MaxResults, NextToken};
use serde::Deserialize;

use crate::error::HandlerResult;
use crate::extract::{self, thing_type_name, Body, Query};
use crate::response::{list_response, ok, Created, Done, One, ThingTypeNames};
use crate::AppState;

pub async fn create_thing_type(
    State(backend): State<AppState>,
    Body(body): Body<CreateThingType>,
) -> HandlerResult {
    let created = backend.create_thing_type(body).await?;
    Ok(ok(Created::new(ThingTypeNames::from(created))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListTypesQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    thing_type_name: Option<ThingTypeName>,
}

pub async fn list_thing_types(
    State(backend): State<AppState>,
    Query(q): Query<ListTypesQuery>,
) -> HandlerResult {
    let page = backend
        .list_thing_types(
            q.thing_type_name,
            extract::page(q.max_results, q.next_token),
        )
        .await?;
    Ok(list_response("thingTypes", page))
}

pub async fn describe_thing_type(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    let thing_type = backend.describe_thing_type(&thing_type_name(name)?).await?;
    Ok(ok(One::ThingType(&thing_type)))
}

pub async fn deprecate_thing_type(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    backend
        .deprecate_thing_type(&thing_type_name(name)?, false)
        .await?;
    Ok(ok(Done::Deprecated))
}

pub async fn undeprecate_thing_type(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    backend
        .deprecate_thing_type(&thing_type_name(name)?, true)
        .await?;
    Ok(ok(Done::Undeprecated))
}

pub async fn delete_thing_type(
    State(backend): State<AppState>,
    Path(name): Path<String>,
) -> HandlerResult {
    backend.delete_thing_type(&thing_type_name(name)?).await?;
    Ok(ok(Done::Deleted))
}
