//! AWS errors to domain errors, by the AWS error code, so a client sees the same status and code
//! from this backend as from the emulator. Faults of the service are logged and answered with a
//! generic message: nothing AWS says about itself reaches the client.

use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use models::DomainError;

/// Seconds a throttled client is told to wait.
const RETRY_AFTER_SECONDS: u64 = 1;

/// Maps a failed call of `operation` to the domain error a client gets.
pub fn map_sdk_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let message = inner.message().unwrap_or("").to_owned();
            match inner.code() {
                Some(code) => from_code(operation, code, message),
                // No error code: a gateway or load balancer in front of IoT answered.
                None if service.raw().status().is_server_error() => {
                    tracing::warn!(
                        operation,
                        status = service.raw().status().as_u16(),
                        "AWS IoT failed without a code"
                    );
                    DomainError::Unavailable(
                        "AWS IoT failed to handle the request; retry it".into(),
                    )
                }
                None => from_code(operation, "", message),
            }
        }
        SdkError::TimeoutError(_) => {
            tracing::warn!(operation, "AWS IoT call timed out");
            DomainError::Unavailable("AWS IoT did not answer in time; retry the request".into())
        }
        SdkError::DispatchFailure(failure) => {
            tracing::warn!(operation, error = ?failure, "AWS IoT could not be reached");
            DomainError::Unavailable("AWS IoT could not be reached; retry the request".into())
        }
        other => {
            tracing::error!(operation, error = ?other, "AWS IoT call failed");
            DomainError::Unavailable(
                "AWS IoT answered with an unreadable response; retry the request".into(),
            )
        }
    }
}

/// Maps a failed DynamoDB or S3 call of the firmware catalog. The catalog asks these services
/// only about its own table and bucket, whose items it checks with conditions, so what they
/// refuse otherwise (a missing table or bucket, a malformed request) is a fault of this service;
/// throttling and outages keep their meaning.
pub fn map_storage_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned);
    match (code.as_deref(), map_sdk_error(operation, err)) {
        (
            Some("ProvisionedThroughputExceededException" | "RequestLimitExceeded" | "SlowDown"),
            _,
        ) => DomainError::Throttled {
            message: "the catalog's storage is throttling requests; retry after a pause".into(),
            retry_after_seconds: RETRY_AFTER_SECONDS,
        },
        (Some("TransactionConflictException"), _) => DomainError::Unavailable(
            "another request changed the same catalog items; retry the request".into(),
        ),
        (
            _,
            kept @ (DomainError::Throttled { .. }
            | DomainError::Unavailable(_)
            | DomainError::Internal(_)),
        ) => kept,
        (code, other) => DomainError::Internal(format!(
            "{operation}: the catalog's storage refused a request ({code:?}): {other}"
        )),
    }
}

/// The domain error for an AWS error code and message.
pub fn from_code(operation: &'static str, code: &str, message: String) -> DomainError {
    match code {
        "ResourceNotFoundException" => DomainError::NotFound(message),
        "ResourceAlreadyExistsException" | "ConflictException" => {
            DomainError::AlreadyExists(message)
        }
        "InvalidStateTransitionException" | "TerminalStateException" => {
            DomainError::InvalidStateTransition(message)
        }
        "VersionConflictException" => DomainError::VersionConflict(message),
        "LimitExceededException" => DomainError::LimitExceeded(message),
        // The edge validated every field already, so what AWS still refuses is a conflict with
        // the state of the resources (a SNAPSHOT job given new targets, a group with children).
        "InvalidRequestException" => DomainError::Conflict(message),
        "InvalidQueryException" => DomainError::InvalidQuery(format!("queryString: {message}")),
        "IndexNotReadyException" => DomainError::Unavailable(
            "AWS IoT's fleet index is still being built; retry later".into(),
        ),
        "RequestEntityTooLargeException" => DomainError::validation(
            "desired",
            format!("AWS IoT refused the shadow as too large: {message}"),
        ),
        "ThrottlingException" | "TooManyRequestsException" => DomainError::Throttled {
            message: "AWS IoT is throttling requests; retry after a pause".into(),
            retry_after_seconds: RETRY_AFTER_SECONDS,
        },
        "ServiceUnavailableException"
        | "InternalFailureException"
        | "InternalException"
        | "InternalServerException" => {
            tracing::warn!(operation, code, %message, "AWS IoT failed");
            DomainError::Unavailable("AWS IoT failed to handle the request; retry it".into())
        }
        _ => DomainError::Internal(format!("{operation}: AWS error {code:?}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expect = fn(&DomainError) -> bool;

    #[test]
    fn every_documented_code_has_its_domain_error() {
        let cases: [(&str, Expect); 10] = [
            ("ResourceNotFoundException", |e| {
                matches!(e, DomainError::NotFound(_))
            }),
            ("ResourceAlreadyExistsException", |e| {
                matches!(e, DomainError::AlreadyExists(_))
            }),
            ("ConflictException", |e| {
                matches!(e, DomainError::AlreadyExists(_))
            }),
            ("InvalidRequestException", |e| {
                matches!(e, DomainError::Conflict(_))
            }),
            ("InvalidStateTransitionException", |e| {
                matches!(e, DomainError::InvalidStateTransition(_))
            }),
            ("VersionConflictException", |e| {
                matches!(e, DomainError::VersionConflict(_))
            }),
            ("LimitExceededException", |e| {
                matches!(e, DomainError::LimitExceeded(_))
            }),
            ("ThrottlingException", |e| {
                matches!(
                    e,
                    DomainError::Throttled {
                        retry_after_seconds: 1,
                        ..
                    }
                )
            }),
            ("ServiceUnavailableException", |e| {
                matches!(e, DomainError::Unavailable(_))
            }),
            ("SomethingNewException", |e| {
                matches!(e, DomainError::Internal(_))
            }),
        ];
        for (code, expected) in cases {
            let error = from_code("Test", code, "detail".into());
            assert!(expected(&error), "{code} gave {error:?}");
        }
    }

    #[test]
    fn service_faults_do_not_echo_the_aws_message() {
        let error = from_code(
            "Test",
            "InternalFailureException",
            "arn:aws:iam::123456789012:secret".into(),
        );
        assert!(!error.to_string().contains("123456789012"), "{error}");
    }
}
