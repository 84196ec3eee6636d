//! The domain error: every way an operation can fail, whichever backend ran it.

use thiserror::Error;

/// What went wrong, in terms a client can act on. The HTTP layer maps each variant to one status
/// and one `code`; backends map their own failures (SQLite, AWS errors) onto these.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A request field is missing, of the wrong type, out of range or not an allowed value.
    #[error("{field}: {rule}")]
    Validation { field: String, rule: String },
    /// A search or dynamic group query outside the supported subset; the message names the token.
    #[error("{0}")]
    InvalidQuery(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A resource with this identifier exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request conflicts with the resource's current state in a way that is not a state
    /// transition (a thing group that still has children, a snapshot job given new targets).
    #[error("{0}")]
    Conflict(String),
    /// The resource's state does not allow this change (deleting an IN_PROGRESS job without force).
    #[error("{0}")]
    InvalidStateTransition(String),
    /// `expectedVersion` did not match the resource's version.
    #[error("{0}")]
    VersionConflict(String),
    /// A quota would be exceeded (targets per job, groups per thing).
    #[error("{0}")]
    LimitExceeded(String),
    /// The backing service asks the caller to slow down.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after_seconds: u64,
    },
    /// The backing service could not be reached or failed; the request may be retried.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of this service. The message is for the log, never for the client.
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    pub fn validation(field: impl Into<String>, rule: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

pub type Result<T, E = DomainError> = std::result::Result<T, E>;
