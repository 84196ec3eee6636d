//! Conversions between the API's models and aws-sdk-iot's types.

use std::collections::BTreeMap;

use aws_sdk_iot::types as iot;
use aws_smithy_types::DateTime;
use models::fields::{
    AbortAction, AbortConfig, AbortCriteria, ExponentialRate, FailureType, JobEndBehavior,
    PresignedUrlConfig, RateIncreaseCriteria, RetryConfig, RetryCriteria, RolloutConfig,
    SchedulingConfig, TimeoutConfig,
};
use models::job::{
    ExecutionStatus, ExecutionSummary, JobProcessDetails, JobStatus, TargetSelection,
};
use models::DomainError;
use time::OffsetDateTime;

/// A field AWS IoT always returns, or an internal error naming it.
pub fn required<T>(value: Option<T>, operation: &str, field: &str) -> Result<T, DomainError> {
    value.ok_or_else(|| DomainError::Internal(format!("{operation}: AWS IoT returned no {field}")))
}

pub fn timestamp(value: &DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(value.as_nanos())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn required_timestamp(
    value: Option<&DateTime>,
    operation: &str,
    field: &str,
) -> Result<OffsetDateTime, DomainError> {
    required(value, operation, field).map(timestamp)
}

pub fn job_status(value: &iot::JobStatus) -> JobStatus {
    JobStatus::from_service(value.as_str())
}

pub fn execution_status(value: &iot::JobExecutionStatus) -> ExecutionStatus {
    ExecutionStatus::from_service(value.as_str())
}

pub fn target_selection(value: &iot::TargetSelection) -> TargetSelection {
    TargetSelection::from_service(value.as_str())
}

pub fn to_target_selection(value: &TargetSelection) -> iot::TargetSelection {
    iot::TargetSelection::from(value.as_str())
}

pub fn to_job_status(value: &JobStatus) -> iot::JobStatus {
    iot::JobStatus::from(value.as_str())
}

pub fn to_execution_status(value: &ExecutionStatus) -> iot::JobExecutionStatus {
    iot::JobExecutionStatus::from(value.as_str())
}

pub fn process_details(value: Option<&iot::JobProcessDetails>) -> JobProcessDetails {
    let Some(d) = value else {
        return JobProcessDetails::default();
    };
    let n = |v: Option<i32>| i64::from(v.unwrap_or(0));
    JobProcessDetails {
        number_of_queued_things: n(d.number_of_queued_things()),
        number_of_in_progress_things: n(d.number_of_in_progress_things()),
        number_of_succeeded_things: n(d.number_of_succeeded_things()),
        number_of_failed_things: n(d.number_of_failed_things()),
        number_of_timed_out_things: n(d.number_of_timed_out_things()),
        number_of_rejected_things: n(d.number_of_rejected_things()),
        number_of_removed_things: n(d.number_of_removed_things()),
        number_of_canceled_things: n(d.number_of_canceled_things()),
    }
}

pub fn timeout_config(value: Option<&iot::TimeoutConfig>) -> Option<TimeoutConfig> {
    value
        .and_then(iot::TimeoutConfig::in_progress_timeout_in_minutes)
        .map(|minutes| TimeoutConfig {
            in_progress_timeout_in_minutes: minutes,
        })
}

pub fn to_timeout_config(value: &TimeoutConfig) -> iot::TimeoutConfig {
    iot::TimeoutConfig::builder()
        .in_progress_timeout_in_minutes(value.in_progress_timeout_in_minutes)
        .build()
}

/// AWS IoT's scheduling times: UTC, to the minute, as `YYYY-MM-DDTHH:MM`.
const SCHEDULE_TIME: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");

pub fn to_scheduling_config(value: &SchedulingConfig) -> iot::SchedulingConfig {
    let format = |at: OffsetDateTime| {
        at.to_offset(time::UtcOffset::UTC)
            .format(SCHEDULE_TIME)
            .unwrap_or_default()
    };
    iot::SchedulingConfig::builder()
        .start_time(format(value.start_time))
        .set_end_time(value.end_time.map(format))
        .set_end_behavior(value.end_behavior.map(|b| match b {
            JobEndBehavior::StopRollout => iot::JobEndBehavior::StopRollout,
            JobEndBehavior::Cancel => iot::JobEndBehavior::Cancel,
            JobEndBehavior::ForceCancel => iot::JobEndBehavior::ForceCancel,
        }))
        .build()
}

/// The schedule AWS IoT reports; None when its start time is missing or unreadable.
pub fn scheduling_config(value: Option<&iot::SchedulingConfig>) -> Option<SchedulingConfig> {
    let value = value?;
    let parse = |text: &str| {
        time::PrimitiveDateTime::parse(text, SCHEDULE_TIME)
            .ok()
            .map(|t| t.assume_utc())
    };
    Some(SchedulingConfig {
        start_time: parse(value.start_time()?)?,
        end_time: value.end_time().and_then(parse),
        end_behavior: value.end_behavior().and_then(|b| match b {
            iot::JobEndBehavior::StopRollout => Some(JobEndBehavior::StopRollout),
            iot::JobEndBehavior::Cancel => Some(JobEndBehavior::Cancel),
            iot::JobEndBehavior::ForceCancel => Some(JobEndBehavior::ForceCancel),
            _ => None,
        }),
    })
}

fn build_error(e: aws_sdk_iot::error::BuildError) -> DomainError {
    DomainError::Internal(format!("building an AWS IoT request: {e}"))
}

fn failure_type(value: &iot::JobExecutionFailureType) -> Option<FailureType> {
    Some(match value {
        iot::JobExecutionFailureType::Failed => FailureType::Failed,
        iot::JobExecutionFailureType::Rejected => FailureType::Rejected,
        iot::JobExecutionFailureType::TimedOut => FailureType::TimedOut,
        iot::JobExecutionFailureType::All => FailureType::All,
        _ => return None,
    })
}

fn to_failure_type(value: FailureType) -> iot::JobExecutionFailureType {
    match value {
        FailureType::Failed => iot::JobExecutionFailureType::Failed,
        FailureType::Rejected => iot::JobExecutionFailureType::Rejected,
        FailureType::TimedOut => iot::JobExecutionFailureType::TimedOut,
        FailureType::All => iot::JobExecutionFailureType::All,
    }
}

/// The abort criteria AWS IoT reports; criteria of kinds this API does not know are left out.
pub fn abort_config(value: Option<&iot::AbortConfig>) -> Option<AbortConfig> {
    let criteria_list: Vec<AbortCriteria> = value?
        .criteria_list()
        .iter()
        .filter_map(|c| {
            Some(AbortCriteria {
                failure_type: failure_type(&c.failure_type)?,
                action: AbortAction::Cancel,
                threshold_percentage: c.threshold_percentage,
                min_number_of_executed_things: i64::from(c.min_number_of_executed_things),
            })
        })
        .collect();
    (!criteria_list.is_empty()).then_some(AbortConfig { criteria_list })
}

pub fn to_abort_config(value: &AbortConfig) -> Result<iot::AbortConfig, DomainError> {
    let criteria = value
        .criteria_list
        .iter()
        .map(|c| {
            iot::AbortCriteria::builder()
                .failure_type(to_failure_type(c.failure_type))
                .action(iot::AbortAction::Cancel)
                .threshold_percentage(c.threshold_percentage)
                .min_number_of_executed_things(
                    i32::try_from(c.min_number_of_executed_things).unwrap_or(i32::MAX),
                )
                .build()
                .map_err(build_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    iot::AbortConfig::builder()
        .set_criteria_list(Some(criteria))
        .build()
        .map_err(build_error)
}

/// The retry criteria AWS IoT reports; criteria of kinds this API does not know are left out.
pub fn retry_config(value: Option<&iot::JobExecutionsRetryConfig>) -> Option<RetryConfig> {
    let criteria_list: Vec<RetryCriteria> = value?
        .criteria_list()
        .iter()
        .filter_map(|c| {
            Some(RetryCriteria {
                failure_type: match c.failure_type {
                    iot::RetryableFailureType::Failed => FailureType::Failed,
                    iot::RetryableFailureType::TimedOut => FailureType::TimedOut,
                    iot::RetryableFailureType::All => FailureType::All,
                    _ => return None,
                },
                number_of_retries: i64::from(c.number_of_retries),
            })
        })
        .collect();
    (!criteria_list.is_empty()).then_some(RetryConfig { criteria_list })
}

pub fn to_retry_config(value: &RetryConfig) -> Result<iot::JobExecutionsRetryConfig, DomainError> {
    let criteria = value
        .criteria_list
        .iter()
        .map(|c| {
            let failure_type = match c.failure_type {
                FailureType::TimedOut => iot::RetryableFailureType::TimedOut,
                FailureType::All => iot::RetryableFailureType::All,
                // The model refuses REJECTED before it gets here.
                FailureType::Failed | FailureType::Rejected => iot::RetryableFailureType::Failed,
            };
            iot::RetryCriteria::builder()
                .failure_type(failure_type)
                .number_of_retries(i32::try_from(c.number_of_retries).unwrap_or(10))
                .build()
                .map_err(build_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    iot::JobExecutionsRetryConfig::builder()
        .set_criteria_list(Some(criteria))
        .build()
        .map_err(build_error)
}

pub fn rollout_config(value: Option<&iot::JobExecutionsRolloutConfig>) -> Option<RolloutConfig> {
    let value = value?;
    let exponential_rate = value.exponential_rate().map(|rate| ExponentialRate {
        base_rate_per_minute: i64::from(rate.base_rate_per_minute()),
        increment_factor: rate.increment_factor(),
        rate_increase_criteria: RateIncreaseCriteria {
            number_of_notified_things: rate
                .rate_increase_criteria()
                .and_then(iot::RateIncreaseCriteria::number_of_notified_things)
                .map(i64::from),
            number_of_succeeded_things: rate
                .rate_increase_criteria()
                .and_then(iot::RateIncreaseCriteria::number_of_succeeded_things)
                .map(i64::from),
        },
    });
    let maximum_per_minute = value.maximum_per_minute().map(i64::from);
    if maximum_per_minute.is_none() && exponential_rate.is_none() {
        return None;
    }
    Some(RolloutConfig {
        maximum_per_minute,
        exponential_rate,
    })
}

/// The edge checked the ranges, which all fit an i32.
fn small(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

pub fn to_rollout_config(
    value: &RolloutConfig,
) -> Result<iot::JobExecutionsRolloutConfig, DomainError> {
    let exponential = match &value.exponential_rate {
        Some(rate) => {
            let criteria = iot::RateIncreaseCriteria::builder()
                .set_number_of_notified_things(
                    rate.rate_increase_criteria
                        .number_of_notified_things
                        .map(small),
                )
                .set_number_of_succeeded_things(
                    rate.rate_increase_criteria
                        .number_of_succeeded_things
                        .map(small),
                )
                .build();
            Some(
                iot::ExponentialRolloutRate::builder()
                    .base_rate_per_minute(small(rate.base_rate_per_minute))
                    .increment_factor(rate.increment_factor)
                    .rate_increase_criteria(criteria)
                    .build()
                    .map_err(|e| DomainError::Internal(format!("building exponentialRate: {e}")))?,
            )
        }
        None => None,
    };
    Ok(iot::JobExecutionsRolloutConfig::builder()
        .set_maximum_per_minute(value.maximum_per_minute.map(small))
        .set_exponential_rate(exponential)
        .build())
}

pub fn presigned_url_config(value: Option<&iot::PresignedUrlConfig>) -> Option<PresignedUrlConfig> {
    let value = value?;
    Some(PresignedUrlConfig {
        role_arn: value.role_arn().map(str::to_owned),
        expires_in_sec: value.expires_in_sec().unwrap_or(3600),
    })
}

pub fn to_presigned_url_config(value: &PresignedUrlConfig) -> iot::PresignedUrlConfig {
    iot::PresignedUrlConfig::builder()
        .set_role_arn(value.role_arn.clone())
        .expires_in_sec(value.expires_in_sec)
        .build()
}

pub fn execution_summary(
    value: Option<&iot::JobExecutionSummary>,
    operation: &str,
) -> Result<ExecutionSummary, DomainError> {
    let value = required(value, operation, "jobExecutionSummary")?;
    Ok(ExecutionSummary {
        status: execution_status(required(value.status(), operation, "status")?),
        queued_at: required_timestamp(value.queued_at(), operation, "queuedAt")?,
        started_at: value.started_at().map(timestamp),
        last_updated_at: required_timestamp(value.last_updated_at(), operation, "lastUpdatedAt")?,
        execution_number: required(value.execution_number(), operation, "executionNumber")?,
    })
}

pub fn sorted<K: Ord + Clone, V: Clone>(
    map: Option<&std::collections::HashMap<K, V>>,
) -> BTreeMap<K, V> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}
