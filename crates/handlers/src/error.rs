//! The single mapping from failures to HTTP responses: `{"error": message, "code": code}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use models::DomainError;
use serde::Serialize;

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

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
}

impl ApiError {
    /// The status and `code` of each failure; the OpenAPI document lists the same pairs.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "MalformedJson"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::BAD_REQUEST, "UnsupportedMediaType"),
            ApiError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            ApiError::RouteNotFound(_) => (StatusCode::NOT_FOUND, "RouteNotFound"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            ApiError::Domain(e) => match e {
                DomainError::Validation { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "ValidationError")
                }
                DomainError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "InvalidQuery"),
                DomainError::NotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFound"),
                DomainError::AlreadyExists(_) => (StatusCode::CONFLICT, "ResourceAlreadyExists"),
                DomainError::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
                DomainError::InvalidStateTransition(_) => {
                    (StatusCode::CONFLICT, "InvalidStateTransition")
                }
                DomainError::VersionConflict(_) => (StatusCode::CONFLICT, "VersionConflict"),
                DomainError::LimitExceeded(_) => (StatusCode::CONFLICT, "LimitExceeded"),
                DomainError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "Throttled"),
                DomainError::Unavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
                }
                DomainError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            },
        }
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
        let (status, code) = self.status_and_code();
        if let ApiError::Domain(DomainError::Internal(cause)) = &self {
            tracing::error!(%cause, "internal error");
        }
        let message = self.message();
        let mut response = crate::json_response(
            status,
            &ErrorBody {
                error: &message,
                code,
            },
        );
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
}
