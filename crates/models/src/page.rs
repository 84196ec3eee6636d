//! Paging: one request shape and one response shape for every list operation.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A page size, 1 to 250 as AWS IoT's list operations allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MaxResults(u32);

impl MaxResults {
    pub const MAX: u32 = 250;
    /// The page size when a client names none.
    pub const DEFAULT: MaxResults = MaxResults(50);
    /// The largest page.
    pub const LARGEST: MaxResults = MaxResults(Self::MAX);

    pub fn parse(value: i64) -> Result<Self, String> {
        if (1..=i64::from(Self::MAX)).contains(&value) {
            Ok(MaxResults(value as u32))
        } else {
            Err(format!(
                "must be an integer from 1 to {}, got {value}",
                Self::MAX
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for MaxResults {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<'de> Deserialize<'de> for MaxResults {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        MaxResults::parse(value).map_err(serde::de::Error::custom)
    }
}

/// An opaque continuation token. Only the backend that issued it can read it; the edge checks
/// only its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NextToken(String);

impl NextToken {
    pub const MAX_LEN: usize = 4096;

    pub fn new(value: String) -> Self {
        NextToken(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The error a backend returns for a token it cannot read: the page the request names does
    /// not exist. Any string of 1 to 4096 characters is a well-formed token (the contract says no
    /// more, since only the issuing backend can read one), so a token of another list, or one
    /// made up, names a missing page (404) rather than a malformed request.
    pub fn invalid() -> DomainError {
        DomainError::NotFound(
            "nextToken: no page of this list starts at this token; pass back a nextToken this \
             list operation returned"
                .to_owned(),
        )
    }
}

impl TryFrom<String> for NextToken {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(format!("must be 1 to {} characters long", Self::MAX_LEN));
        }
        Ok(NextToken(value))
    }
}

impl From<NextToken> for String {
    fn from(value: NextToken) -> String {
        value.0
    }
}

/// Which page a client asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub max_results: MaxResults,
    pub next_token: Option<NextToken>,
}

/// One page of results; `next_token` is present only while more results exist.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<NextToken>,
}
