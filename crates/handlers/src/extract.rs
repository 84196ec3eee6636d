//! Reading requests: JSON bodies, query strings and path parameters, each turned into validated
//! types or into an error that names the field and the rule it broke.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use models::files::{CategoryId, FileId};
use models::ids::{JobId, JobTemplateId, ShadowName, ThingGroupName, ThingName, ThingTypeName};
use models::{DomainError, MaxResults, NextToken, PageRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ApiError;

/// The largest body accepted. A job document is at most 32 KB of JSON text, and escaping it
/// inside a JSON string can grow it several times.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Turns a serde error with its path into the field-naming validation error.
fn field_error<E: std::fmt::Display>(err: serde_path_to_error::Error<E>, whole: &str) -> ApiError {
    let path = err.path().to_string();
    let field = if path == "." { whole.to_owned() } else { path };
    DomainError::validation(field, err.inner().to_string()).into()
}

/// A type a request body is read into. JSON `null` is not a value in this API: a field is given
/// with a value or left out, as the contract says, except for the fields named here, where
/// `null` means something (and so may be anywhere inside them).
pub trait RequestBody: DeserializeOwned {
    const NULLABLE: &'static [&'static str] = &[];

    /// The rules between fields, which no single field's type can hold; `Body` runs them once
    /// the body reads, so a handler only ever sees a body that keeps them.
    fn check(&self) -> Result<(), DomainError> {
        Ok(())
    }
}

/// A JSON body of type `T`. An empty body reads as `{}`, so bodies whose fields are all
/// optional may be left out.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: RequestBody> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = read_body(req).await?;
        let bytes: &[u8] = if is_blank(&bytes) { b"{}" } else { &bytes };
        if bytes != b"{}" {
            let given = content_type
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let is_json = given
                .parse::<mime::Mime>()
                .map(|m| {
                    m.type_() == mime::APPLICATION
                        && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
                })
                .unwrap_or(false);
            if !is_json {
                return Err(ApiError::UnsupportedMediaType(given.to_owned()));
            }
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        let Some(fields) = value.as_object() else {
            return Err(DomainError::validation("body", "must be a JSON object").into());
        };
        for (name, field) in fields {
            if T::NULLABLE.contains(&name.as_str()) {
                continue;
            }
            if let Some(path) = null_inside(field, name.clone()) {
                return Err(DomainError::validation(
                    path,
                    "must not be null; leave the field out instead",
                )
                .into());
            }
        }
        let body: T =
            serde_path_to_error::deserialize(value).map_err(|e| field_error(e, "body"))?;
        body.check()?;
        Ok(Body(body))
    }
}

/// The body's bytes, up to the largest body accepted.
async fn read_body(req: Request) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })
}

/// Whether a body is empty, white space aside: no body at all.
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Where the first `null` inside `value` is, as a field path (`a.b[2]`), if any.
fn null_inside(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::Null => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| null_inside(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(name, field)| null_inside(field, format!("{path}.{name}"))),
        _ => None,
    }
}

/// The absence of a body, for operations that take none (deletes): a body sent anyway is refused
/// rather than ignored, so a field put there by mistake (`force`) is not silently dropped.
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        if is_blank(&read_body(req).await?) {
            Ok(NoBody)
        } else {
            Err(DomainError::validation(
                "body",
                "this operation takes no body; give its parameters in the query string",
            )
            .into())
        }
    }
}

/// A query string read into `T`; unknown parameters are refused, so a typo is not ignored.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|e| field_error(e, "query string"))
    }
}

/// A query string that must be empty: for operations whose parameters are all in the path and
/// the body, so that one put in the query string by mistake (`force` on a cancel) is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The page a list operation's `maxResults` and `nextToken` ask for.
pub fn page(max_results: Option<MaxResults>, next_token: Option<NextToken>) -> PageRequest {
    PageRequest {
        max_results: max_results.unwrap_or_default(),
        next_token,
    }
}

/// `maxResults` from a query string, where it arrives as text.
pub fn max_results<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<MaxResults>, D::Error> {
    let text = String::deserialize(deserializer)?;
    let value: i64 = text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "must be an integer from 1 to {}, got {text:?}",
            MaxResults::MAX
        ))
    })?;
    MaxResults::parse(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A boolean query parameter: `true` or `false`.
pub fn bool_from_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    match String::deserialize(deserializer)?.as_str() {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        other => Err(serde::de::Error::custom(format!(
            "must be true or false, got {other:?}"
        ))),
    }
}

/// `expectedVersion` from a query string: a non-negative integer.
pub fn version_from_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .map(Some)
        .ok_or_else(|| {
            serde::de::Error::custom(format!("must be a non-negative integer, got {text:?}"))
        })
}

/// An execution number from a query string, where it arrives as text.
pub fn execution_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let rule = "must be a positive integer";
    let text = String::deserialize(deserializer)?;
    let number: i64 = text
        .parse()
        .map_err(|_| serde::de::Error::custom(format!("{rule}, got {text:?}")))?;
    if number < 1 {
        return Err(serde::de::Error::custom(format!("{rule}, got {number}")));
    }
    Ok(Some(number))
}

/// `expiresInSec` of a download URL: whole seconds within AWS IoT's presigned URL bounds.
pub fn expires_in_sec<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let bounds = models::files::URL_EXPIRY_SECONDS;
    let text = String::deserialize(deserializer)?;
    text.parse::<i64>()
        .ok()
        .filter(|v| bounds.contains(v))
        .map(Some)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "must be an integer from {} to {} (seconds), got {text:?}",
                bounds.start(),
                bounds.end()
            ))
        })
}

/// Parses one path parameter with the identifier's own rule.
pub(crate) fn path_param<T>(
    field: &str,
    value: String,
    parse: fn(String) -> Result<T, String>,
) -> Result<T, ApiError> {
    parse(value).map_err(|rule| DomainError::validation(field, rule).into())
}

pub fn job_id(value: String) -> Result<JobId, ApiError> {
    path_param("jobId", value, JobId::parse)
}

pub fn job_template_id(value: String) -> Result<JobTemplateId, ApiError> {
    path_param("jobTemplateId", value, JobTemplateId::parse)
}

pub fn thing_name(value: String) -> Result<ThingName, ApiError> {
    path_param("thingName", value, ThingName::parse)
}

pub fn thing_group_name(value: String) -> Result<ThingGroupName, ApiError> {
    path_param("thingGroupName", value, ThingGroupName::parse)
}

pub fn thing_type_name(value: String) -> Result<ThingTypeName, ApiError> {
    path_param("thingTypeName", value, ThingTypeName::parse)
}

pub fn shadow_name(value: String) -> Result<ShadowName, ApiError> {
    path_param("shadowName", value, ShadowName::parse)
}

pub fn category_id(value: String) -> Result<CategoryId, ApiError> {
    path_param("categoryId", value, CategoryId::parse)
}

pub fn file_id(value: String) -> Result<FileId, ApiError> {
    path_param("fileId", value, FileId::parse)
}

/// The API's request bodies, with the rules between their fields: none takes `null` but the thing
/// type of a thing update (which removes it) and a shadow update's sections (which clear a
/// section, or delete a key inside).
mod request_bodies {
    use models::device::{StartNextBody, UpdateBody};
    use models::files::{
        CreateCategory, CreateFiles, DeleteFiles, StartMultipartUpload, StartUpload,
        UpdateCategory, UpdateFiles,
    };
    use models::job::{
        AssociateTargets, CancelExecutionBody, CancelJobBody, CreateJob, CreateJobTemplate,
        UpdateJob,
    };
    use models::registry::{
        CreateDynamicThingGroupBody, CreateThing, CreateThingGroup, CreateThingType,
        UpdateDynamicThingGroupBody, UpdateThing, UpdateThingGroup,
    };
    use models::shadow::ShadowUpdate;
    use models::DomainError;

    use super::RequestBody;

    impl RequestBody for CreateJob {}
    impl RequestBody for UpdateJob {}
    impl RequestBody for CancelJobBody {}
    impl RequestBody for AssociateTargets {}
    impl RequestBody for CancelExecutionBody {}
    impl RequestBody for CreateJobTemplate {}
    impl RequestBody for CreateCategory {}
    impl RequestBody for UpdateCategory {}
    impl RequestBody for StartUpload {}
    impl RequestBody for StartMultipartUpload {
        fn check(&self) -> Result<(), DomainError> {
            self.plan().map(|_| ())
        }
    }
    impl RequestBody for CreateFiles {
        fn check(&self) -> Result<(), DomainError> {
            CreateFiles::check(self)
        }
    }
    impl RequestBody for UpdateFiles {
        fn check(&self) -> Result<(), DomainError> {
            UpdateFiles::check(self)
        }
    }
    impl RequestBody for DeleteFiles {
        fn check(&self) -> Result<(), DomainError> {
            DeleteFiles::check(self)
        }
    }
    impl RequestBody for CreateThing {
        fn check(&self) -> Result<(), DomainError> {
            self.validate()
        }
    }
    impl RequestBody for UpdateThing {
        const NULLABLE: &'static [&'static str] = &["thingTypeName"];
    }
    impl RequestBody for CreateThingGroup {}
    impl RequestBody for UpdateThingGroup {}
    impl RequestBody for CreateDynamicThingGroupBody {}
    impl RequestBody for UpdateDynamicThingGroupBody {}
    impl RequestBody for CreateThingType {
        fn check(&self) -> Result<(), DomainError> {
            self.validate()
        }
    }
    impl RequestBody for ShadowUpdate {
        const NULLABLE: &'static [&'static str] = &["desired", "reported"];

        fn check(&self) -> Result<(), DomainError> {
            self.validate()
        }
    }
    // The jobs data plane is AWS's API, whose services read a `null` field as one left out.
    impl RequestBody for StartNextBody {
        const NULLABLE: &'static [&'static str] = &["statusDetails", "stepTimeoutInMinutes"];
    }
    impl RequestBody for UpdateBody {
        const NULLABLE: &'static [&'static str] = &[
            "status",
            "statusDetails",
            "stepTimeoutInMinutes",
            "expectedVersion",
            "includeJobExecutionState",
            "includeJobDocument",
            "executionNumber",
        ];
    }
}

/// The query of a list that takes only paging: `maxResults` and `nextToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "max_results")]
    max_results: Option<MaxResults>,
    next_token: Option<NextToken>,
}

impl ListQuery {
    pub fn into_page(self) -> models::PageRequest {
        page(self.max_results, self.next_token)
    }
}
