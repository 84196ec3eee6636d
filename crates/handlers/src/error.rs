//! The single mapping from failures to HTTP responses, in the API's shape (`{"error": message,
//! "code": code}`) or the AWS jobs data plane's, from one table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use models::DomainError;
use serde::Serialize;

/// What every handler returns.
pub(crate) type HandlerResult = Result<Response, ApiError>;

/// Everything a handler can fail with: a domain error, or a request the HTTP layer cannot read.
#[derive(Debug)]
pub enum ApiError {
    Domain(DomainError),
    /// The body is not JSON.
    MalformedJson(String),
    /// A body came with a content type other than JSON.
    UnsupportedMediaType(String),
    /// The body is larger than `limit` bytes.
    PayloadTooLarge {
        limit: usize,
    },
    /// No route matches the path.
    RouteNotFound(String),
    /// The path exists, the method does not.
    MethodNotAllowed(String),
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Domain(e)
    }
}

/// The API's error body.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

/// The AWS jobs data plane's error body (its type goes in a header).
#[derive(Serialize)]
struct DataPlaneErrorBody<'a> {
    message: &'a str,
}

/// The two ways a failure is told: the API's (`{"error", "code"}`, `openapi.yaml`'s error
/// shape) and the AWS jobs data plane's (`{"message"}` with its type in `x-amzn-ErrorType`), which
/// devices calling the device endpoint expect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Api,
    DataPlane,
}

impl ApiError {
    /// The one table: each failure's status and name in each shape (the OpenAPI document lists
    /// the API's pairs).
    fn answers(&self) -> [(StatusCode, &'static str); 2] {
        const INVALID_REQUEST: &str = "InvalidRequestException";
        match self {
            ApiError::MalformedJson(_) => [
                (StatusCode::BAD_REQUEST, "MalformedJson"),
                (StatusCode::BAD_REQUEST, INVALID_REQUEST),
            ],
            ApiError::UnsupportedMediaType(_) => [
                (StatusCode::BAD_REQUEST, "UnsupportedMediaType"),
                (StatusCode::BAD_REQUEST, INVALID_REQUEST),
            ],
            ApiError::PayloadTooLarge { .. } => [
                (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
                (StatusCode::PAYLOAD_TOO_LARGE, INVALID_REQUEST),
            ],
            ApiError::RouteNotFound(_) => [
                (StatusCode::NOT_FOUND, "RouteNotFound"),
                (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            ],
            ApiError::MethodNotAllowed(_) => [
                (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
                (StatusCode::METHOD_NOT_ALLOWED, INVALID_REQUEST),
            ],
            ApiError::Domain(e) => match e {
                DomainError::Validation { .. } => [
                    (StatusCode::UNPROCESSABLE_ENTITY, "ValidationError"),
                    (StatusCode::BAD_REQUEST, INVALID_REQUEST),
                ],
                DomainError::InvalidQuery(_) => [
                    (StatusCode::BAD_REQUEST, "InvalidQuery"),
                    (StatusCode::BAD_REQUEST, INVALID_REQUEST),
                ],
                DomainError::NotFound(_) => [
                    (StatusCode::NOT_FOUND, "ResourceNotFound"),
                    (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
                ],
                DomainError::AlreadyExists(_) => [
                    (StatusCode::CONFLICT, "ResourceAlreadyExists"),
                    (StatusCode::CONFLICT, "ConflictException"),
                ],
                DomainError::Conflict(_) => [
                    (StatusCode::CONFLICT, "Conflict"),
                    (StatusCode::CONFLICT, "ConflictException"),
                ],
                DomainError::InvalidStateTransition(_) => [
                    (StatusCode::CONFLICT, "InvalidStateTransition"),
                    (StatusCode::CONFLICT, "InvalidStateTransitionException"),
                ],
                // **[inferred]** The data plane's HTTP model has no error for a version mismatch;
                // MQTT calls it VersionMismatch. This is the control plane's name for it.
                DomainError::VersionConflict(_) => [
                    (StatusCode::CONFLICT, "VersionConflict"),
                    (StatusCode::CONFLICT, "VersionConflictException"),
                ],
                DomainError::LimitExceeded(_) => [
                    (StatusCode::CONFLICT, "LimitExceeded"),
                    (StatusCode::BAD_REQUEST, INVALID_REQUEST),
                ],
                DomainError::Throttled { .. } => [
                    (StatusCode::TOO_MANY_REQUESTS, "Throttled"),
                    (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
                ],
                DomainError::Unavailable(_) => [
                    (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailableException",
                    ),
                ],
                DomainError::Internal(_) => [
                    (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailableException",
                    ),
                ],
            },
        }
    }

    /// The answer in `shape`. An internal error's cause is logged here, never sent; a throttled
    /// request is told when to retry.
    pub fn render(self, shape: Shape) -> Response {
        let (status, name) = self.answers()[shape as usize];
        if let ApiError::Domain(DomainError::Internal(cause)) = &self {
            tracing::error!(%cause, "internal error");
        }
        let message = self.message();
        let mut response = match shape {
            Shape::Api => crate::response::json_response(
                status,
                &ErrorBody {
                    error: &message,
                    code: name,
                },
            ),
            Shape::DataPlane => {
                let mut response = crate::response::json_response(
                    status,
                    &DataPlaneErrorBody { message: &message },
                );
                response
                    .headers_mut()
                    .insert("x-amzn-ErrorType", HeaderValue::from_static(name));
                response
            }
        };
        if let ApiError::Domain(DomainError::Throttled {
            retry_after_seconds,
            ..
        }) = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        response
    }

    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::MalformedJson(detail) => format!("the body is not valid JSON: {detail}"),
            ApiError::UnsupportedMediaType(given) => {
                format!("Content-Type must be application/json, got {given:?}")
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("the body is larger than {limit} bytes")
            }
            ApiError::RouteNotFound(path) => format!("no operation is served at {path}"),
            ApiError::MethodNotAllowed(detail) => detail.clone(),
            // The cause of an internal error is logged, never sent: it may name files or SQL.
            ApiError::Domain(DomainError::Internal(_)) => "internal error".to_owned(),
            ApiError::Domain(e) => e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(Shape::Api)
    }
}
