//! Opaque page tokens for keyset paging: each names the list it belongs to and the key of the
//! last item returned, so a page costs the same however deep it is.
//!
//! **[inferred]** AWS documents neither order nor default size: lists here are in creation order
//! (group members by thing name, a job's executions by thing name), 50 items by default, and a
//! token that is not one of this list's names no page: a 404 naming `nextToken`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use models::{NextToken, Page, PageRequest};

use crate::db::Res;

/// The key after which the next page starts, if any.
pub(crate) fn after_key(list: &str, page: &PageRequest) -> Res<Option<String>> {
    let Some(token) = &page.next_token else {
        return Ok(None);
    };
    let decoded = URL_SAFE_NO_PAD
        .decode(token.as_str())
        .map_err(|_| NextToken::invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| NextToken::invalid())?;
    match text.split_once(':') {
        Some((kind, key)) if kind == list => Ok(Some(key.to_owned())),
        _ => Err(NextToken::invalid().into()),
    }
}

/// Like `after_key`, for lists keyed by a row sequence number.
pub(crate) fn after_seq(list: &str, page: &PageRequest) -> Res<i64> {
    match after_key(list, page)? {
        None => Ok(0),
        Some(key) => key.parse().map_err(|_| NextToken::invalid().into()),
    }
}

/// How many rows to fetch: one more than the page, to learn whether another page follows.
pub(crate) fn fetch_limit(page: &PageRequest) -> i64 {
    i64::from(page.max_results.get()) + 1
}

/// Cuts the extra row off and turns the last row's key into the next token.
pub(crate) fn finish<T>(list: &str, page: &PageRequest, mut rows: Vec<(String, T)>) -> Page<T> {
    let more = rows.len() > page.max_results.get() as usize;
    rows.truncate(page.max_results.get() as usize);
    let next_token = if more {
        rows.last()
            .map(|(key, _)| NextToken::new(URL_SAFE_NO_PAD.encode(format!("{list}:{key}"))))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        next_token,
    }
}
