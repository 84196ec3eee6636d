//! Validated request fields other than identifiers: free text, job documents, status details and
//! the job configuration objects. Each type checks its own rule when it is deserialized, so a
//! value that exists is valid.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Free text of at most 2028 characters without control characters (AWS's `[^\p{C}]+`): job
/// descriptions and comments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    pub const MAX_LEN: usize = 2028;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let len = value.chars().count();
        if len == 0 || len > Self::MAX_LEN {
            return Err(format!(
                "must be 1 to {} characters long, got {len}",
                Self::MAX_LEN
            ));
        }
        if value.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Text(value))
    }
}

impl From<Text> for String {
    fn from(value: Text) -> String {
        value.0
    }
}

/// A cancel reason code: at most 128 of `[A-Z0-9_]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReasonCode(String);

impl ReasonCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReasonCode {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        if value.is_empty() || value.len() > 128 {
            return Err("must be 1 to 128 characters long".into());
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err("must match [A-Z0-9_]+".into());
        }
        Ok(ReasonCode(value))
    }
}

impl From<ReasonCode> for String {
    fn from(value: ReasonCode) -> String {
        value.0
    }
}

/// A job document: a JSON text of at most 32 KB (32,768 bytes of UTF-8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobDocument(String);

impl JobDocument {
    pub const MAX_BYTES: usize = 32 * 1024;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for JobDocument {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        if value.len() > Self::MAX_BYTES {
            return Err(format!(
                "must be at most {} bytes, got {}",
                Self::MAX_BYTES,
                value.len()
            ));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&value)
            .map_err(|e| format!("must be a JSON text: {e}"))?;
        Ok(JobDocument(value))
    }
}

impl From<JobDocument> for String {
    fn from(value: JobDocument) -> String {
        value.0
    }
}

/// Name/value pairs a job execution reports: at most 10, names 1 to 128 of `[a-zA-Z0-9:_-]`,
/// values 1 to 1024 characters without control characters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct StatusDetails(BTreeMap<String, String>);

impl StatusDetails {
    pub const MAX_PAIRS: usize = 10;

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl TryFrom<BTreeMap<String, String>> for StatusDetails {
    type Error = String;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, String> {
        if map.len() > Self::MAX_PAIRS {
            return Err(format!(
                "must hold at most {} pairs, got {}",
                Self::MAX_PAIRS,
                map.len()
            ));
        }
        for (name, value) in &map {
            let name_ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
            if !name_ok {
                return Err(format!("name {name:?} must be 1 to 128 of [a-zA-Z0-9:_-]"));
            }
            let len = value.chars().count();
            if len == 0 || len > 1024 || value.chars().any(char::is_control) {
                return Err(format!(
                    "value of {name:?} must be 1 to 1024 characters without control characters"
                ));
            }
        }
        Ok(StatusDetails(map))
    }
}

impl From<StatusDetails> for BTreeMap<String, String> {
    fn from(value: StatusDetails) -> Self {
        value.0
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, String> {
    if value < min || value > max {
        return Err(format!("{name} must be from {min} to {max}, got {value}"));
    }
    Ok(value)
}

/// How long an execution may stay IN_PROGRESS before it times out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawTimeoutConfig"
)]
pub struct TimeoutConfig {
    pub in_progress_timeout_in_minutes: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTimeoutConfig {
    in_progress_timeout_in_minutes: i64,
}

impl TryFrom<RawTimeoutConfig> for TimeoutConfig {
    type Error = String;
    fn try_from(raw: RawTimeoutConfig) -> Result<Self, String> {
        let minutes = in_range(
            "inProgressTimeoutInMinutes",
            raw.in_progress_timeout_in_minutes,
            1,
            10080,
        )?;
        Ok(TimeoutConfig {
            in_progress_timeout_in_minutes: minutes,
        })
    }
}

/// How fast executions are rolled out: a fixed rate, or an exponentially growing one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawRolloutConfig"
)]
pub struct RolloutConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExponentialRate {
    pub base_rate_per_minute: i64,
    pub increment_factor: f64,
    pub rate_increase_criteria: RateIncreaseCriteria,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateIncreaseCriteria {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRolloutConfig {
    maximum_per_minute: Option<i64>,
    exponential_rate: Option<ExponentialRate>,
}

impl TryFrom<RawRolloutConfig> for RolloutConfig {
    type Error = String;
    fn try_from(raw: RawRolloutConfig) -> Result<Self, String> {
        if let Some(max) = raw.maximum_per_minute {
            in_range("maximumPerMinute", max, 1, 1000)?;
        }
        if let Some(rate) = &raw.exponential_rate {
            in_range(
                "exponentialRate.baseRatePerMinute",
                rate.base_rate_per_minute,
                1,
                1000,
            )?;
            in_range(
                "exponentialRate.incrementFactor",
                rate.increment_factor,
                1.1,
                5.0,
            )?;
            let criteria = &rate.rate_increase_criteria;
            match (
                criteria.number_of_notified_things,
                criteria.number_of_succeeded_things,
            ) {
                (Some(n), None) | (None, Some(n)) => {
                    in_range(
                        "exponentialRate.rateIncreaseCriteria threshold",
                        n,
                        1,
                        i64::from(i32::MAX),
                    )?;
                }
                _ => {
                    return Err(
                        "exponentialRate.rateIncreaseCriteria must hold exactly one of \
                                numberOfNotifiedThings and numberOfSucceededThings"
                            .into(),
                    )
                }
            }
        }
        if raw.maximum_per_minute.is_none() && raw.exponential_rate.is_none() {
            return Err("must hold maximumPerMinute or exponentialRate".into());
        }
        Ok(RolloutConfig {
            maximum_per_minute: raw.maximum_per_minute,
            exponential_rate: raw.exponential_rate,
        })
    }
}

/// Where devices get pre-signed S3 URLs for the job's files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawPresignedUrlConfig"
)]
pub struct PresignedUrlConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub expires_in_sec: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPresignedUrlConfig {
    role_arn: Option<String>,
    expires_in_sec: Option<i64>,
}

impl TryFrom<RawPresignedUrlConfig> for PresignedUrlConfig {
    type Error = String;
    fn try_from(raw: RawPresignedUrlConfig) -> Result<Self, String> {
        if let Some(arn) = &raw.role_arn {
            let printable = arn.bytes().all(|b| b.is_ascii_graphic());
            if !(20..=2048).contains(&arn.len()) || !arn.starts_with("arn:") || !printable {
                return Err(
                    "roleArn must be an IAM role ARN: 20 to 2048 printable ASCII characters \
                     starting with arn:"
                        .into(),
                );
            }
        }
        let expires = in_range("expiresInSec", raw.expires_in_sec.unwrap_or(3600), 60, 3600)?;
        Ok(PresignedUrlConfig {
            role_arn: raw.role_arn,
            expires_in_sec: expires,
        })
    }
}

/// The failures an abort or retry criterion counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureType {
    Failed,
    Rejected,
    TimedOut,
    All,
}

impl FailureType {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureType::Failed => "FAILED",
            FailureType::Rejected => "REJECTED",
            FailureType::TimedOut => "TIMED_OUT",
            FailureType::All => "ALL",
        }
    }

    /// Whether an execution that ended in `status` (FAILED, REJECTED, TIMED_OUT) counts.
    pub fn counts(self, status: &str) -> bool {
        match self {
            FailureType::All => matches!(status, "FAILED" | "REJECTED" | "TIMED_OUT"),
            other => other.as_str() == status,
        }
    }
}

/// When to cancel a job because too many of its executions fail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawAbortConfig"
)]
pub struct AbortConfig {
    pub criteria_list: Vec<AbortCriteria>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AbortCriteria {
    pub failure_type: FailureType,
    pub action: AbortAction,
    pub threshold_percentage: f64,
    pub min_number_of_executed_things: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AbortAction {
    Cancel,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAbortConfig {
    criteria_list: Vec<AbortCriteria>,
}

impl TryFrom<RawAbortConfig> for AbortConfig {
    type Error = String;
    fn try_from(raw: RawAbortConfig) -> Result<Self, String> {
        if raw.criteria_list.is_empty() {
            return Err("criteriaList must hold at least one criterion".into());
        }
        for c in &raw.criteria_list {
            if c.threshold_percentage.is_nan() || !(0.0..=100.0).contains(&c.threshold_percentage) {
                return Err(format!(
                    "criteriaList.thresholdPercentage must be from 0 to 100, got {}",
                    c.threshold_percentage
                ));
            }
            in_range(
                "criteriaList.minNumberOfExecutedThings",
                c.min_number_of_executed_things,
                1,
                i64::from(i32::MAX),
            )?;
        }
        Ok(AbortConfig {
            criteria_list: raw.criteria_list,
        })
    }
}

/// How often a device may try an execution again after it FAILED or TIMED_OUT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawRetryConfig"
)]
pub struct RetryConfig {
    pub criteria_list: Vec<RetryCriteria>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryCriteria {
    pub failure_type: FailureType,
    pub number_of_retries: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRetryConfig {
    criteria_list: Vec<RetryCriteria>,
}

impl TryFrom<RawRetryConfig> for RetryConfig {
    type Error = String;
    fn try_from(raw: RawRetryConfig) -> Result<Self, String> {
        if !(1..=2).contains(&raw.criteria_list.len()) {
            return Err(format!(
                "criteriaList must hold 1 or 2 criteria, got {}",
                raw.criteria_list.len()
            ));
        }
        for c in &raw.criteria_list {
            if c.failure_type == FailureType::Rejected {
                return Err(
                    "criteriaList.failureType must be FAILED, TIMED_OUT or ALL: a REJECTED execution is not retried"
                        .into(),
                );
            }
            in_range("criteriaList.numberOfRetries", c.number_of_retries, 0, 10)?;
        }
        Ok(RetryConfig {
            criteria_list: raw.criteria_list,
        })
    }
}

impl RetryConfig {
    /// How many retries an execution that ended in `status` may have: the most that any
    /// criterion counting that status allows **[inferred]**. REJECTED is never retried.
    pub fn retries_for(&self, status: &str) -> i64 {
        if status == "REJECTED" {
            return 0;
        }
        self.criteria_list
            .iter()
            .filter(|c| c.failure_type.counts(status))
            .map(|c| c.number_of_retries)
            .max()
            .unwrap_or(0)
    }
}

/// When a job rolls out: from `startTime`, until `endTime`, when `endBehavior` applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    try_from = "RawSchedulingConfig"
)]
pub struct SchedulingConfig {
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub end_time: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_behavior: Option<JobEndBehavior>,
}

/// What happens to a scheduled job at its end time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobEndBehavior {
    /// No more executions are rolled out; those out already go on.
    StopRollout,
    /// The job is canceled: QUEUED executions are CANCELED.
    Cancel,
    /// The job is canceled with force: QUEUED and IN_PROGRESS executions are CANCELED.
    ForceCancel,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSchedulingConfig {
    #[serde(with = "time::serde::rfc3339")]
    start_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    end_time: Option<OffsetDateTime>,
    end_behavior: Option<JobEndBehavior>,
}

impl TryFrom<RawSchedulingConfig> for SchedulingConfig {
    type Error = String;
    fn try_from(raw: RawSchedulingConfig) -> Result<Self, String> {
        // AWS IoT takes times to the minute.
        for (name, at) in [
            ("startTime", Some(raw.start_time)),
            ("endTime", raw.end_time),
        ] {
            if let Some(at) = at {
                if at.second() != 0 || at.nanosecond() != 0 {
                    return Err(format!(
                        "{name} must be a whole minute, such as 2027-01-31T22:00:00Z"
                    ));
                }
            }
        }
        if let Some(end) = raw.end_time {
            if end - raw.start_time < time::Duration::minutes(30) {
                return Err("endTime must be at least 30 minutes after startTime".into());
            }
        }
        if raw.end_behavior.is_some() && raw.end_time.is_none() {
            return Err("endBehavior needs an endTime".into());
        }
        Ok(SchedulingConfig {
            start_time: raw.start_time.to_offset(time::UtcOffset::UTC),
            end_time: raw.end_time.map(|t| t.to_offset(time::UtcOffset::UTC)),
            end_behavior: raw.end_behavior,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduling_configs_check_their_times() {
        let parse = |v: serde_json::Value| {
            serde_json::from_value::<SchedulingConfig>(v).map_err(|e| e.to_string())
        };
        assert!(parse(serde_json::json!({"startTime": "2027-01-01T10:00:00Z", "endTime": "2027-01-01T10:30:00Z", "endBehavior": "CANCEL"})).is_ok());
        assert!(
            parse(serde_json::json!({"startTime": "2027-01-01T10:00:30Z"}))
                .unwrap_err()
                .contains("whole minute")
        );
        assert!(parse(serde_json::json!({"startTime": "2027-01-01T10:00:00Z", "endTime": "2027-01-01T10:29:00Z"})).unwrap_err().contains("30 minutes"));
        assert!(parse(
            serde_json::json!({"startTime": "2027-01-01T10:00:00Z", "endBehavior": "CANCEL"})
        )
        .unwrap_err()
        .contains("needs an endTime"));
    }

    #[test]
    fn abort_and_retry_configs_check_their_rules() {
        let abort = |v: serde_json::Value| {
            serde_json::from_value::<AbortConfig>(v).map_err(|e| e.to_string())
        };
        assert!(abort(serde_json::json!({"criteriaList": [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50.0, "minNumberOfExecutedThings": 4}]})).is_ok());
        assert!(abort(serde_json::json!({"criteriaList": []}))
            .unwrap_err()
            .contains("at least one"));
        assert!(abort(serde_json::json!({"criteriaList": [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 101.0, "minNumberOfExecutedThings": 4}]})).unwrap_err().contains("thresholdPercentage"));
        let retry = |v: serde_json::Value| {
            serde_json::from_value::<RetryConfig>(v).map_err(|e| e.to_string())
        };
        let ok = retry(serde_json::json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}, {"failureType": "ALL", "numberOfRetries": 1}]})).unwrap();
        assert_eq!(ok.retries_for("FAILED"), 2);
        assert_eq!(ok.retries_for("TIMED_OUT"), 1);
        assert_eq!(ok.retries_for("REJECTED"), 0, "a rejection is final");
        assert!(retry(
            serde_json::json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 11}]})
        )
        .unwrap_err()
        .contains("numberOfRetries"));
        assert!(retry(
            serde_json::json!({"criteriaList": [{"failureType": "REJECTED", "numberOfRetries": 1}]})
        )
        .unwrap_err()
        .contains("REJECTED"));
    }

    #[test]
    fn documents_must_be_json_within_32_kb() {
        assert!(JobDocument::try_from(r#"{"op":"reboot"}"#.to_owned()).is_ok());
        assert!(JobDocument::try_from("{not json".to_owned()).is_err());
        let big = format!("\"{}\"", "a".repeat(JobDocument::MAX_BYTES));
        assert!(JobDocument::try_from(big).is_err());
    }

    #[test]
    fn text_rejects_empty_long_and_control_characters() {
        assert!(Text::try_from("fine".to_owned()).is_ok());
        assert!(Text::try_from(String::new()).is_err());
        assert!(Text::try_from("a\u{7}b".to_owned()).is_err());
        assert!(Text::try_from("a".repeat(2029)).is_err());
    }

    #[test]
    fn configs_check_their_ranges() {
        let parse = |v: serde_json::Value| {
            serde_json::from_value::<RolloutConfig>(v).map_err(|e| e.to_string())
        };
        assert!(parse(serde_json::json!({"maximumPerMinute": 10})).is_ok());
        assert!(parse(serde_json::json!({"maximumPerMinute": 0}))
            .unwrap_err()
            .contains("maximumPerMinute"));
        assert!(parse(serde_json::json!({})).is_err());
        let timeout = serde_json::from_value::<TimeoutConfig>(
            serde_json::json!({"inProgressTimeoutInMinutes": 10081}),
        );
        assert!(timeout.is_err());
    }
}
