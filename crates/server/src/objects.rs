//! The local stand-in for S3's presigned URLs: `PUT` and `GET` (and `HEAD`) of the objects that
//! hold files' bytes, under [`emulator::objects::ROUTE_PREFIX`]. Bodies stream to and from disk;
//! no object is ever held in memory. Downloads answer `Range`, `ETag` and `If-None-Match`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use emulator::objects::{Access, ObjectError, Stored};
use emulator::Emulator;
use http_body_util::BodyExt;
use models::files::SHA256_HEADER;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

pub fn router(emulator: Arc<Emulator>) -> Router {
    let route = format!("{}{{*key}}", emulator::objects::ROUTE_PREFIX);
    Router::new()
        .route(&route, any(object))
        .with_state(emulator)
}

/// An S3-style refusal, as JSON with the API's error shape.
fn refuse(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    let body = json!({"error": message.to_string(), "code": code});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn object_error(error: ObjectError) -> Response {
    match error {
        ObjectError::Forbidden(m) => refuse(StatusCode::FORBIDDEN, "AccessDenied", m),
        e @ ObjectError::BadDigest { .. } => refuse(StatusCode::BAD_REQUEST, "BadDigest", e),
        e @ ObjectError::TooLarge(_) => refuse(StatusCode::PAYLOAD_TOO_LARGE, "EntityTooLarge", e),
        e @ ObjectError::NotFound(_) => refuse(StatusCode::NOT_FOUND, "NoSuchKey", e),
        e @ ObjectError::NoSuchUpload(_) => refuse(StatusCode::NOT_FOUND, "NoSuchUpload", e),
        ObjectError::Io(e) => {
            tracing::error!(error = %e, "local object store");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "internal error",
            )
        }
    }
}

async fn object(
    State(emulator): State<Arc<Emulator>>,
    Path(key): Path<String>,
    request: Request,
) -> Response {
    let query = request.uri().query().unwrap_or("").to_owned();
    let now = emulator.clock().now();
    let store = emulator.objects();
    let result = match (request.method().clone(), part_of(&query)) {
        (Method::PUT, Some((upload_id, number))) => {
            let binding = emulator::objects::part_binding(&upload_id, number);
            if let Err(e) = store.authorize(Access::Put, &key, &query, Some(&binding), now) {
                return object_error(e);
            }
            match emulator.takes_part(&key, &upload_id).await {
                Ok(true) => {}
                Ok(false) => return object_error(ObjectError::NoSuchUpload(upload_id)),
                Err(e) => return object_error(ObjectError::Io(std::io::Error::other(e))),
            }
            match store.start_part(&upload_id, number).await {
                Ok(incoming) => put(incoming, store.max_size(), request).await,
                Err(e) => Err(e),
            }
        }
        (Method::PUT, None) => {
            let Some(sha256) = declared_sha256(request.headers()) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    format!("a PUT must carry the {SHA256_HEADER} header the upload gave"),
                );
            };
            if let Err(e) = store.authorize(Access::Put, &key, &query, Some(&sha256), now) {
                return object_error(e);
            }
            match store.start_put(&key, &sha256).await {
                Ok(incoming) => put(incoming, store.max_size(), request).await,
                Err(e) => Err(e),
            }
        }
        (Method::GET | Method::HEAD, _) => {
            if let Err(e) = store.authorize(Access::Get, &key, &query, None, now) {
                return object_error(e);
            }
            let (parts, _) = request.into_parts();
            get(store, &key, &parts.method, &parts.headers).await
        }
        _ => Ok(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "objects take PUT, GET and HEAD",
        )),
    };
    result.unwrap_or_else(object_error)
}

/// The sha256 (hex) a PUT declares in S3's checksum header (base64 of the digest).
fn declared_sha256(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(SHA256_HEADER)?.to_str().ok()?;
    let bytes = models::digest::from_base64(value)?;
    (bytes.len() == 32).then(|| models::digest::hex(&bytes))
}

/// The upload id and part number of a part's URL.
fn part_of(query: &str) -> Option<(String, u64)> {
    let mut upload_id = None;
    let mut number = None;
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match name {
            "uploadId" => upload_id = Some(value.to_owned()),
            "partNumber" => number = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    Some((upload_id?, number?))
}

/// Streams a PUT's body into `incoming`, refusing a declared length beyond `max_size` at once.
async fn put(
    mut incoming: emulator::objects::Incoming,
    max_size: u64,
    request: Request,
) -> Result<Response, ObjectError> {
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > max_size) {
        return Err(ObjectError::TooLarge(max_size));
    }
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| std::io::Error::other(format!("reading the body: {e}")))?;
        if let Ok(chunk) = frame.into_data() {
            incoming.write(&chunk).await?;
        }
    }
    let stored = incoming.finish().await?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::ETAG, etag(&stored));
    Ok(response)
}

fn etag(stored: &Stored) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", stored.sha256))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// A byte range of `size`, from a `Range: bytes=...` header: `Ok(None)` for the whole object,
/// `Err` when the range cannot be satisfied.
fn byte_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges would need a multipart answer; like S3, answer the whole object.
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().map_err(|_| ())?;
            if suffix == 0 {
                return Err(());
            }
            (size.saturating_sub(suffix), size.checked_sub(1).ok_or(())?)
        }
        (start, "") => (
            start.parse().map_err(|_| ())?,
            size.checked_sub(1).ok_or(())?,
        ),
        (start, end) => {
            let end: u64 = end.parse().map_err(|_| ())?;
            (
                start.parse().map_err(|_| ())?,
                end.min(size.saturating_sub(1)),
            )
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn get(
    store: &emulator::objects::Objects,
    key: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, ObjectError> {
    let stored = store.stat(key).await?;
    let tag = etag(&stored);
    let matches_tag = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == tag.to_str().unwrap_or("") || t.trim() == "*")
        });
    if matches_tag {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let Ok(range) = byte_range(range, stored.size) else {
        return Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{}", stored.size))
                    .unwrap_or_else(|_| HeaderValue::from_static("bytes */0")),
            )],
        )
            .into_response());
    };
    let (status, start, length) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, stored.size),
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let mut file = tokio::fs::File::open(&stored.path).await?;
        file.seek(std::io::SeekFrom::Start(start)).await?;
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
            file.take(length),
            256 * 1024,
        ))
    };
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    out.insert(header::ETAG, tag);
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) = HeaderValue::from_str(&format!(
            "bytes {start}-{}/{}",
            start + length - 1,
            stored.size
        )) {
            out.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(byte_range(None, 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(byte_range(Some("bytes=4-"), 10), Ok(Some((4, 9))));
        assert_eq!(byte_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(byte_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
        assert_eq!(byte_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(byte_range(Some("bytes=5-2"), 10), Err(()));
        assert_eq!(byte_range(Some("bytes=x-2"), 10), Err(()));
    }
}
