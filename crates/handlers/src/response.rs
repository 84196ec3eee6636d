//! Success answers: JSON bodies with their content type, and the list shape every list operation
//! shares (`{"<items>": [...], "nextToken"?}`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use models::NextToken;
use serde::Serialize;
use serde_json::json;

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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<T> {
    #[serde(flatten)]
    items: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<NextToken>,
}

/// A list response: `{"<key>": [...], "nextToken"?}`.
pub(crate) fn list_response<T: Serialize>(
    key: &str,
    page: models::Page<T>,
) -> axum::response::Response {
    ok(ListBody {
        items: json!({ key: page.items }),
        next_token: page.next_token,
    })
}
