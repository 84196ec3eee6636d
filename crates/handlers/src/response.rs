//! Success answers, typed: JSON bodies with their content type, one resource under its key
//! (`One`), acknowledgements (`Done`, `NewVersion`), creates with the new names (`Created`), and
//! the list shape every list operation shares (`{"<items>": [...], "nextToken"?}`).

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use models::device::DeviceExecution;
use models::files::{Category, CategoryDetail, Download, File, MultipartUpload, Upload};
use models::ids::{JobId, JobTemplateId};
use models::job::{Job, JobExecution, JobTemplate};
use models::registry::{Created as RegistryCreated, Thing, ThingGroup, ThingType};
use models::shadow::ShadowDocument;
use models::NextToken;
use serde::ser::SerializeMap;
use serde::Serialize;

/// A JSON response. Serializing the API's own types cannot fail; if it ever did, the client
/// gets a bare 500 rather than a half-written body.
pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A 200 response with `body` as JSON.
pub(crate) fn ok<T: Serialize>(body: T) -> Response {
    json_response(StatusCode::OK, &body)
}

/// A page of a list: its items under the list's key, and where the next page starts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a, T> {
    #[serde(flatten)]
    items: BTreeMap<&'a str, Vec<T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<NextToken>,
}

/// A list response: `{"<key>": [...], "nextToken"?}`.
pub(crate) fn list_response<T: Serialize>(key: &str, page: models::Page<T>) -> Response {
    ok(ListBody {
        items: BTreeMap::from([(key, page.items)]),
        next_token: page.next_token,
    })
}

/// One resource under its key: `{"job": {...}}`, `{"thing": {...}}`, and so on.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum One<'a> {
    Job(&'a Job),
    Document(&'a str),
    Execution(&'a JobExecution),
    JobTemplate(&'a JobTemplate),
    Thing(&'a Thing),
    ThingGroup(&'a ThingGroup),
    ThingType(&'a ThingType),
    ThingShadow(&'a ShadowDocument),
    Category(&'a Category),
    #[serde(rename = "category")]
    CategoryDetail(&'a CategoryDetail),
    File(&'a File),
    Files(&'a [File]),
    Upload(&'a Upload),
    #[serde(rename = "upload")]
    MultipartUpload(&'a MultipartUpload),
    Download(&'a Download),
    /// A device's view of its execution, on the jobs data plane.
    #[serde(rename = "execution")]
    DeviceExecution(&'a DeviceExecution),
}

/// `{"<done>": true}`: what a change answers when it has nothing more to tell.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Done {
    Updated,
    Deleted,
    Canceled,
    Associated,
    Added,
    Removed,
    Deprecated,
    Undeprecated,
}

impl Done {
    fn word(self) -> &'static str {
        match self {
            Done::Updated => "updated",
            Done::Deleted => "deleted",
            Done::Canceled => "canceled",
            Done::Associated => "associated",
            Done::Added => "added",
            Done::Removed => "removed",
            Done::Deprecated => "deprecated",
            Done::Undeprecated => "undeprecated",
        }
    }
}

impl Serialize for Done {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.word(), &true)?;
        map.end()
    }
}

/// `{"updated": true, "version": n}`: an update that answers the resource's new version.
#[derive(Serialize)]
pub(crate) struct NewVersion {
    updated: bool,
    version: i64,
}

impl NewVersion {
    pub(crate) fn new(version: i64) -> Self {
        NewVersion {
            updated: true,
            version,
        }
    }
}

/// `{"created": true, ...}`, with the new resource's names under the keys of its kind.
#[derive(Serialize)]
pub(crate) struct Created<T> {
    created: bool,
    #[serde(flatten)]
    names: T,
}

impl<T: Serialize> Created<T> {
    pub(crate) fn new(names: T) -> Self {
        Created {
            created: true,
            names,
        }
    }
}

/// A new job's names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobNames {
    pub(crate) job_id: JobId,
    pub(crate) job_arn: String,
}

/// A new job template's names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobTemplateNames {
    pub(crate) job_template_id: JobTemplateId,
    pub(crate) job_template_arn: String,
}

/// A new thing's names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingNames {
    thing_name: String,
    thing_id: String,
    thing_arn: String,
}

impl From<RegistryCreated> for ThingNames {
    fn from(c: RegistryCreated) -> Self {
        ThingNames {
            thing_name: c.name,
            thing_id: c.id,
            thing_arn: c.arn,
        }
    }
}

/// A new thing group's names, static or dynamic.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingGroupNames {
    thing_group_name: String,
    thing_group_id: String,
    thing_group_arn: String,
}

impl From<RegistryCreated> for ThingGroupNames {
    fn from(c: RegistryCreated) -> Self {
        ThingGroupNames {
            thing_group_name: c.name,
            thing_group_id: c.id,
            thing_group_arn: c.arn,
        }
    }
}

/// A new thing type's names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThingTypeNames {
    thing_type_name: String,
    thing_type_id: String,
    thing_type_arn: String,
}

impl From<RegistryCreated> for ThingTypeNames {
    fn from(c: RegistryCreated) -> Self {
        ThingTypeNames {
            thing_type_name: c.name,
            thing_type_id: c.id,
            thing_type_arn: c.arn,
        }
    }
}

/// `{}`: the device data plane's answer when there is no execution to start.
#[derive(Serialize)]
pub(crate) struct Empty {}
