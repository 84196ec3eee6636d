//! Handlers of the firmware catalog: categories, files, their lifecycle, and the presigned
//! requests that move their bytes.

use axum::extract::{Path, State};
use models::files::{CategoryId, Checksum};
use models::files::{
    CreateCategory, CreateFiles, DeleteFiles, FileFilter, FileState, FileVersion, Locale,
    StartMultipartUpload, StartUpload, Transition, UpdateCategory, UpdateFiles,
    DEFAULT_URL_EXPIRY_SECONDS,
};
use models::{DomainError, MaxResults, NextToken};
use serde::Deserialize;

use crate::error::HandlerResult;
use crate::extract::{self, category_id, file_id, Body, NoBody, Query};
use crate::response::{list_response, ok, Created, Done, One};
use crate::AppState;

pub async fn create_category(
    State(backend): State<AppState>,
    Body(body): Body<CreateCategory>,
) -> HandlerResult {
    let category = backend.create_category(body).await?;
    Ok(ok(Created::new(One::Category(&category))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCategoriesQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    parent_id: Option<CategoryId>,
}

pub async fn list_categories(
    State(backend): State<AppState>,
    Query(q): Query<ListCategoriesQuery>,
) -> HandlerResult {
    let page = extract::page(q.max_results, q.next_token);
    let categories = backend.list_categories(q.parent_id, page).await?;
    Ok(list_response("categories", categories))
}

pub async fn describe_category(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    let category = backend.describe_category(&category_id(id)?).await?;
    Ok(ok(One::CategoryDetail(&category)))
}

pub async fn update_category(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<UpdateCategory>,
) -> HandlerResult {
    backend
        .update_category(&category_id(id)?, body.description)
        .await?;
    Ok(ok(Done::Updated))
}

pub async fn delete_category(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    backend.delete_category(&category_id(id)?).await?;
    Ok(ok(Done::Deleted))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListFilesQuery {
    #[serde(default, deserialize_with = "extract::max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
    locale: Option<Locale>,
    state: Option<FileState>,
}

/// A page of files, of one category or of all, filtered as the query asks.
async fn files_page(
    backend: AppState,
    category_id: Option<CategoryId>,
    q: ListFilesQuery,
) -> HandlerResult {
    let filter = FileFilter {
        category_id,
        locale: q.locale,
        state: q.state,
    };
    let page = extract::page(q.max_results, q.next_token);
    Ok(list_response(
        "files",
        backend.list_files(filter, page).await?,
    ))
}

pub async fn list_files_in_category(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ListFilesQuery>,
) -> HandlerResult {
    files_page(backend, Some(category_id(id)?), q).await
}

pub async fn list_files(
    State(backend): State<AppState>,
    Query(q): Query<ListFilesQuery>,
) -> HandlerResult {
    files_page(backend, None, q).await
}

pub async fn create_files(
    State(backend): State<AppState>,
    Body(body): Body<CreateFiles>,
) -> HandlerResult {
    let files = backend.create_files(body.files).await?;
    Ok(ok(Created::new(One::Files(&files))))
}

pub async fn update_files(
    State(backend): State<AppState>,
    Body(body): Body<UpdateFiles>,
) -> HandlerResult {
    backend.update_files(body.files).await?;
    Ok(ok(Done::Updated))
}

pub async fn delete_files(
    State(backend): State<AppState>,
    Body(body): Body<DeleteFiles>,
) -> HandlerResult {
    let ids = body.files.into_iter().map(|f| f.file_id).collect();
    backend.delete_files(ids).await?;
    Ok(ok(Done::Deleted))
}

/// `GET /files/{checksum}/versions/{version}`: a list, as the original package answered, of the
/// one file with that checksum and version.
pub async fn find_file(
    State(backend): State<AppState>,
    Path((checksum, version)): Path<(String, String)>,
) -> HandlerResult {
    let checksum = extract::path_param("checksum", checksum, Checksum::parse)?;
    let version = extract::path_param("version", version, FileVersion::parse)?;
    let file = backend.find_file(&checksum, &version).await?;
    Ok(list_response(
        "files",
        models::Page {
            items: vec![file],
            next_token: None,
        },
    ))
}

pub async fn describe_file(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    let file = backend.describe_file(&file_id(id)?).await?;
    Ok(ok(One::File(&file)))
}

/// A lifecycle step of the file `id`, answered with the file.
async fn transition(backend: AppState, id: String, step: Transition) -> HandlerResult {
    let file = backend.transition_file(&file_id(id)?, step).await?;
    Ok(ok(One::File(&file)))
}

pub async fn publish_file(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    _: NoBody,
) -> HandlerResult {
    transition(backend, id, Transition::Publish).await
}

pub async fn deprecate_file(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    _: NoBody,
) -> HandlerResult {
    transition(backend, id, Transition::Deprecate).await
}

pub async fn start_file_upload(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<StartUpload>,
) -> HandlerResult {
    if body.size == 0 {
        return Err(DomainError::validation("size", "must be at least 1 byte").into());
    }
    let upload = backend.start_upload(&file_id(id)?, body.size).await?;
    Ok(ok(One::Upload(&upload)))
}

pub async fn start_multipart_upload(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<StartMultipartUpload>,
) -> HandlerResult {
    let id = file_id(id)?;
    let upload = backend.start_multipart_upload(&id, body.plan()?).await?;
    Ok(ok(One::MultipartUpload(&upload)))
}

pub async fn complete_file_upload(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    _: NoBody,
) -> HandlerResult {
    let file = backend.complete_upload(&file_id(id)?).await?;
    Ok(ok(One::File(&file)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DownloadQuery {
    #[serde(default, deserialize_with = "extract::expires_in_sec")]
    expires_in_sec: Option<i64>,
}

pub async fn download_file(
    State(backend): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> HandlerResult {
    let expires_in_sec = q.expires_in_sec.unwrap_or(DEFAULT_URL_EXPIRY_SECONDS);
    let download = backend.download_file(&file_id(id)?, expires_in_sec).await?;
    Ok(ok(One::Download(&download)))
}
