//! Handlers of the shadow operations: the classic shadow at `/things/{thingName}/shadow`, named
//! shadows at `/things/{thingName}/shadows/{shadowName}`.

use axum::extract::{Path, State};
use models::ids::{ShadowName, ThingName};
use models::shadow::ShadowUpdate;

use crate::error::HandlerResult;
use crate::extract::{shadow_name, thing_name, Body, ListQuery, Query};
use crate::response::{list_response, ok, Done, NewVersion, One};
use crate::AppState;

async fn get(backend: AppState, thing: ThingName, shadow: Option<ShadowName>) -> HandlerResult {
    let document = backend.get_shadow(&thing, shadow.as_ref()).await?;
    Ok(ok(One::ThingShadow(&document)))
}

async fn update(
    backend: AppState,
    thing: ThingName,
    shadow: Option<ShadowName>,
    body: ShadowUpdate,
) -> HandlerResult {
    let version = backend.update_shadow(&thing, shadow.as_ref(), body).await?;
    Ok(ok(NewVersion::new(version)))
}

async fn delete(backend: AppState, thing: ThingName, shadow: Option<ShadowName>) -> HandlerResult {
    backend.delete_shadow(&thing, shadow.as_ref()).await?;
    Ok(ok(Done::Deleted))
}

pub async fn get_classic_shadow(
    State(backend): State<AppState>,
    Path(thing): Path<String>,
) -> HandlerResult {
    get(backend, thing_name(thing)?, None).await
}

pub async fn update_classic_shadow(
    State(backend): State<AppState>,
    Path(thing): Path<String>,
    Body(body): Body<ShadowUpdate>,
) -> HandlerResult {
    update(backend, thing_name(thing)?, None, body).await
}

pub async fn delete_classic_shadow(
    State(backend): State<AppState>,
    Path(thing): Path<String>,
) -> HandlerResult {
    delete(backend, thing_name(thing)?, None).await
}

pub async fn get_named_shadow(
    State(backend): State<AppState>,
    Path((thing, shadow)): Path<(String, String)>,
) -> HandlerResult {
    get(backend, thing_name(thing)?, Some(shadow_name(shadow)?)).await
}

pub async fn update_named_shadow(
    State(backend): State<AppState>,
    Path((thing, shadow)): Path<(String, String)>,
    Body(body): Body<ShadowUpdate>,
) -> HandlerResult {
    update(
        backend,
        thing_name(thing)?,
        Some(shadow_name(shadow)?),
        body,
    )
    .await
}

pub async fn delete_named_shadow(
    State(backend): State<AppState>,
    Path((thing, shadow)): Path<(String, String)>,
) -> HandlerResult {
    delete(backend, thing_name(thing)?, Some(shadow_name(shadow)?)).await
}

pub async fn list_named_shadows(
    State(backend): State<AppState>,
    Path(thing): Path<String>,
    Query(q): Query<ListQuery>,
) -> HandlerResult {
    let page = backend
        .list_named_shadows(&thing_name(thing)?, q.into_page())
        .await?;
    Ok(list_response("thingShadows", page))
}
