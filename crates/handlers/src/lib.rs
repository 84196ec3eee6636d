//! The HTTP face of the API: one async handler per OpenAPI operation, the router that serves
//! exactly the operations of `openapi.yaml`, and the single mapping of errors to responses.
//!
//! Handlers reach state only through [`models::Backend`]; this crate knows HTTP and nothing of
//! Lambda, SQLite or AWS.

pub mod console;
pub mod device;
pub mod error;
pub mod extract;
mod files;
mod jobs;
mod registry;
mod response;
mod shadows;
mod templates;
mod thing_types;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use models::Backend;

pub use error::ApiError;

/// What every handler receives: the backend behind the API.
pub type AppState = Arc<dyn Backend>;

/// One operation of `openapi.yaml`: its id, method and path, the handler that serves it, and the
/// IAM actions the AWS backend calls for it.
pub struct Operation {
    pub id: &'static str,
    pub method: Method,
    pub path: &'static str,
    /// What the function serving this operation must be allowed on AWS: `cargo xtask synth`
    /// grants exactly these, and the AWS backend's tests check the handler calls no other IoT
    /// action. Shadow operations also ask IoT once for the account's data endpoint
    /// (DescribeEndpoint). `dynamodb:Query:<Index>` is a query of that index of the catalog's
    /// table; a transaction needs the actions of its items (PutItem, UpdateItem, DeleteItem).
    pub iam_actions: &'static [&'static str],
    route: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl Operation {
    /// Whether this operation's path template (`/jobs/{jobId}`) matches a request path.
    pub fn matches_path(&self, path: &str) -> bool {
        path_matches(self.path, path)
    }
}

macro_rules! operations {
    ($($id:literal $method:ident $path:literal => $handler:path, [$($action:literal),+];)*) => {
        /// Every operation the API serves. The router is built from this table alone, and a test
        /// checks it against `openapi.yaml`.
        pub static OPERATIONS: &[Operation] = &[
            $(Operation {
                id: $id,
                method: Method::$method,
                path: $path,
                iam_actions: &[$($action),+],
                route: |filter| on(filter, $handler),
            },)*
        ];
    };
}

operations! {
    "createJob" POST "/jobs" => jobs::create_job, ["iot:CreateJob", "dynamodb:UpdateItem", "dynamodb:GetItem", "iam:PassRole"];
    "listJobs" GET "/jobs" => jobs::list_jobs, ["iot:ListJobs"];
    "describeJob" GET "/jobs/{jobId}" => jobs::describe_job, ["iot:DescribeJob"];
    "updateJob" PUT "/jobs/{jobId}" => jobs::update_job, ["iot:UpdateJob"];
    "deleteJob" DELETE "/jobs/{jobId}" => jobs::delete_job, ["iot:DeleteJob"];
    "cancelJob" PUT "/jobs/{jobId}/cancel" => jobs::cancel_job, ["iot:CancelJob"];
    "associateTargetsWithJob" PUT "/jobs/{jobId}/associate" => jobs::associate_targets_with_job, ["iot:AssociateTargetsWithJob"];
    "getJobDocument" GET "/jobs/{jobId}/document" => jobs::get_job_document, ["iot:GetJobDocument"];
    "listJobExecutionsForJob" GET "/jobs/{jobId}/status" => jobs::list_job_executions_for_job, ["iot:ListJobExecutionsForJob"];
    "describeJobExecution" GET "/jobs/{jobId}/things/{thingName}" => jobs::describe_job_execution, ["iot:DescribeJobExecution"];
    "deleteJobExecution" DELETE "/jobs/{jobId}/things/{thingName}" => jobs::delete_job_execution, ["iot:DeleteJobExecution", "iot:DescribeJobExecution"];
    "cancelJobExecution" PUT "/jobs/{jobId}/things/{thingName}/cancel" => jobs::cancel_job_execution, ["iot:CancelJobExecution"];
    "listJobExecutionsForThing" GET "/things/{thingName}/jobs" => jobs::list_job_executions_for_thing, ["iot:ListJobExecutionsForThing"];
    "createJobTemplate" POST "/job-templates" => templates::create_job_template, ["iot:CreateJobTemplate"];
    "listJobTemplates" GET "/job-templates" => templates::list_job_templates, ["iot:ListJobTemplates"];
    "describeJobTemplate" GET "/job-templates/{jobTemplateId}" => templates::describe_job_template, ["iot:DescribeJobTemplate"];
    "deleteJobTemplate" DELETE "/job-templates/{jobTemplateId}" => templates::delete_job_template, ["iot:DeleteJobTemplate"];
    "createThing" POST "/things" => registry::create_thing, ["iot:CreateThing"];
    "listThings" GET "/things" => registry::list_things, ["iot:ListThings"];
    "searchThings" GET "/things/search" => registry::search_things, ["iot:SearchIndex"];
    "describeThing" GET "/things/{thingName}" => registry::describe_thing, ["iot:DescribeThing"];
    "updateThing" PUT "/things/{thingName}" => registry::update_thing, ["iot:UpdateThing"];
    "deleteThing" DELETE "/things/{thingName}" => registry::delete_thing, ["iot:DeleteThing"];
    "listThingGroupsForThing" GET "/things/{thingName}/thing-groups" => registry::list_thing_groups_for_thing, ["iot:ListThingGroupsForThing"];
    "getClassicShadow" GET "/things/{thingName}/shadow" => shadows::get_classic_shadow, ["iot:GetThingShadow", "iot:DescribeEndpoint"];
    "updateClassicShadow" PUT "/things/{thingName}/shadow" => shadows::update_classic_shadow, ["iot:UpdateThingShadow", "iot:DescribeEndpoint"];
    "deleteClassicShadow" DELETE "/things/{thingName}/shadow" => shadows::delete_classic_shadow, ["iot:DeleteThingShadow", "iot:DescribeEndpoint"];
    "listNamedShadows" GET "/things/{thingName}/shadows" => shadows::list_named_shadows, ["iot:ListNamedShadowsForThing", "iot:DescribeEndpoint"];
    "getNamedShadow" GET "/things/{thingName}/shadows/{shadowName}" => shadows::get_named_shadow, ["iot:GetThingShadow", "iot:DescribeEndpoint"];
    "updateNamedShadow" PUT "/things/{thingName}/shadows/{shadowName}" => shadows::update_named_shadow, ["iot:UpdateThingShadow", "iot:DescribeEndpoint"];
    "deleteNamedShadow" DELETE "/things/{thingName}/shadows/{shadowName}" => shadows::delete_named_shadow, ["iot:DeleteThingShadow", "iot:DescribeEndpoint"];
    "createThingType" POST "/thing-types" => thing_types::create_thing_type, ["iot:CreateThingType"];
    "listThingTypes" GET "/thing-types" => thing_types::list_thing_types, ["iot:ListThingTypes"];
    "describeThingType" GET "/thing-types/{thingTypeName}" => thing_types::describe_thing_type, ["iot:DescribeThingType"];
    "deleteThingType" DELETE "/thing-types/{thingTypeName}" => thing_types::delete_thing_type, ["iot:DeleteThingType"];
    "deprecateThingType" PUT "/thing-types/{thingTypeName}/deprecate" => thing_types::deprecate_thing_type, ["iot:DeprecateThingType"];
    "undeprecateThingType" PUT "/thing-types/{thingTypeName}/undeprecate" => thing_types::undeprecate_thing_type, ["iot:DeprecateThingType"];
    "createThingGroup" POST "/thing-groups" => registry::create_thing_group, ["iot:CreateThingGroup"];
    "listThingGroups" GET "/thing-groups" => registry::list_thing_groups, ["iot:ListThingGroups"];
    "describeThingGroup" GET "/thing-groups/{thingGroupName}" => registry::describe_thing_group, ["iot:DescribeThingGroup"];
    "updateThingGroup" PUT "/thing-groups/{thingGroupName}" => registry::update_thing_group, ["iot:UpdateThingGroup"];
    "deleteThingGroup" DELETE "/thing-groups/{thingGroupName}" => registry::delete_thing_group, ["iot:DeleteThingGroup"];
    "addThingToThingGroup" PUT "/thing-groups/{thingGroupName}/things/{thingName}" => registry::add_thing_to_thing_group, ["iot:AddThingToThingGroup"];
    "removeThingFromThingGroup" DELETE "/thing-groups/{thingGroupName}/things/{thingName}" => registry::remove_thing_from_thing_group, ["iot:RemoveThingFromThingGroup"];
    "listThingsInThingGroup" GET "/thing-groups/{thingGroupName}/things" => registry::list_things_in_thing_group, ["iot:ListThingsInThingGroup"];
    "createDynamicThingGroup" POST "/dynamic-thing-groups" => registry::create_dynamic_thing_group, ["iot:CreateDynamicThingGroup"];
    "updateDynamicThingGroup" PUT "/dynamic-thing-groups/{thingGroupName}" => registry::update_dynamic_thing_group, ["iot:UpdateDynamicThingGroup"];
    "deleteDynamicThingGroup" DELETE "/dynamic-thing-groups/{thingGroupName}" => registry::delete_dynamic_thing_group, ["iot:DeleteDynamicThingGroup"];
    "createCategory" POST "/categories" => files::create_category, ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"];
    "listCategories" GET "/categories" => files::list_categories, ["dynamodb:GetItem", "dynamodb:Query:ByParent"];
    "describeCategory" GET "/categories/{categoryId}" => files::describe_category, ["dynamodb:GetItem", "dynamodb:Query:ByParent"];
    "updateCategory" PUT "/categories/{categoryId}" => files::update_category, ["dynamodb:UpdateItem"];
    "deleteCategory" DELETE "/categories/{categoryId}" => files::delete_category, ["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"];
    "listFilesInCategory" GET "/categories/{categoryId}/files" => files::list_files_in_category, ["dynamodb:GetItem", "dynamodb:Query:ByCategory"];
    "createFiles" POST "/files" => files::create_files, ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"];
    "listFiles" GET "/files" => files::list_files, ["dynamodb:Query:ByKind"];
    "updateFiles" PUT "/files" => files::update_files, ["dynamodb:UpdateItem"];
    "deleteFiles" DELETE "/files" => files::delete_files, ["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "iot:DescribeJob", "s3:DeleteObject"];
    "findFile" GET "/files/{checksum}/versions/{version}" => files::find_file, ["dynamodb:GetItem"];
    "describeFile" GET "/files/by-id/{fileId}" => files::describe_file, ["dynamodb:GetItem"];
    "publishFile" PUT "/files/by-id/{fileId}/publish" => files::publish_file, ["dynamodb:UpdateItem", "dynamodb:GetItem"];
    "deprecateFile" PUT "/files/by-id/{fileId}/deprecate" => files::deprecate_file, ["dynamodb:UpdateItem", "dynamodb:GetItem"];
    "startFileUpload" POST "/files/by-id/{fileId}/upload" => files::start_file_upload, ["dynamodb:GetItem", "dynamodb:UpdateItem", "s3:PutObject", "s3:AbortMultipartUpload"];
    "startMultipartUpload" POST "/files/by-id/{fileId}/multipart-upload" => files::start_multipart_upload, ["dynamodb:GetItem", "dynamodb:UpdateItem", "s3:PutObject", "s3:AbortMultipartUpload"];
    "completeFileUpload" POST "/files/by-id/{fileId}/upload/complete" => files::complete_file_upload, ["dynamodb:GetItem", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject", "dynamodb:UpdateItem"];
    "downloadFile" GET "/files/by-id/{fileId}/download" => files::download_file, ["dynamodb:GetItem", "s3:GetObject"];
}

/// The API router over a backend. Unknown paths and methods get JSON errors too.
pub fn router(backend: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    let mut paths: Vec<&str> = OPERATIONS.iter().map(|op| op.path).collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let methods = OPERATIONS
            .iter()
            .filter(|op| op.path == path)
            .fold(MethodRouter::new(), |methods, op| {
                methods.merge((op.route)(method_filter(&op.method)))
            })
            .fallback(method_not_allowed);
        router = router.route(path, methods);
    }
    router.fallback(route_not_found).with_state(backend)
}

fn method_filter(method: &Method) -> MethodFilter {
    MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET)
}

async fn route_not_found(req: Request) -> ApiError {
    ApiError::RouteNotFound(req.uri().path().to_owned())
}

async fn method_not_allowed(req: Request) -> ApiError {
    let allowed: Vec<&str> = OPERATIONS
        .iter()
        .filter(|op| path_matches(op.path, req.uri().path()))
        .map(|op| op.method.as_str())
        .collect();
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}; allowed: {}",
        req.method(),
        req.uri().path(),
        allowed.join(", ")
    ))
}

/// Whether a concrete path fits a template such as `/jobs/{jobId}`.
fn path_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') || ts == ps => {}
            _ => return false,
        }
    }
}

/// The environment variable naming the origins browsers may call the deployed API from,
/// comma-separated: `cargo xtask synth` sets it on each function from the stack's CORS settings,
/// and the Lambda bootstrap reads it (API Gateway answers the preflights).
pub const CORS_ORIGINS_VARIABLE: &str = "IOT_API_CORS_ORIGINS";

/// The environment variable telling the Lambda bootstrap which function it is: unset, the API;
/// [`VERIFIER_FUNCTION`], the function the files bucket notifies when a multipart upload
/// completes. `cargo xtask synth` sets it on the verifier.
pub const FUNCTION_VARIABLE: &str = "IOT_API_FUNCTION";
pub const VERIFIER_FUNCTION: &str = "verify-uploads";

/// CORS for browsers on `origins` (`*` for any): the layer the local server and the Lambda share.
/// An origin that is not a valid header value is refused, naming it.
pub fn cors(origins: &[String]) -> Result<tower_http::cors::CorsLayer, String> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| format!("{o:?} is not a valid origin")))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]))
}

/// A layer that turns a panic inside a handler into the usual 500 error body, so one bad request
/// can neither crash the process nor leave a client without an answer.
pub fn catch_panic(
) -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(
        panic_response as fn(Box<dyn std::any::Any + Send>) -> Response,
    )
}

fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::Domain(models::DomainError::Internal(format!(
        "handler panicked: {detail}"
    )))
    .into_response()
}
