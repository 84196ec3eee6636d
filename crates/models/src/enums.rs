//! The status and selection enums AWS IoT returns. Requests accept only the values listed here;
//! a value the service returns that this version does not know is kept as `Unknown` and passed
//! through as the service sent it, never dropped.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! service_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value the service sent that this version does not know.
            Unknown(String),
        }

        impl $name {
            /// The values a request may name.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Unknown(text) => text,
                }
            }

            /// A known value, or None.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// Whatever the service sent: a known value, or `Unknown` holding the text.
            pub fn from_service(text: &str) -> Self {
                Self::parse(text).unwrap_or_else(|| Self::Unknown(text.to_owned()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| serde::de::Error::unknown_variant(&text, Self::NAMES))
            }
        }
    };
}

service_enum!(
    /// SNAPSHOT jobs run on the targets' things at creation; CONTINUOUS jobs also on things that
    /// join a targeted group later.
    TargetSelection {
        Snapshot = "SNAPSHOT",
        Continuous = "CONTINUOUS",
    }
);

#[allow(clippy::derivable_impls)] // The enum comes from a macro, which cannot take #[default].
impl Default for TargetSelection {
    fn default() -> Self {
        TargetSelection::Snapshot
    }
}

service_enum!(
    JobStatus {
        InProgress = "IN_PROGRESS",
        Canceled = "CANCELED",
        Completed = "COMPLETED",
        DeletionInProgress = "DELETION_IN_PROGRESS",
        Scheduled = "SCHEDULED",
    }
);

service_enum!(
    ExecutionStatus {
        Queued = "QUEUED",
        InProgress = "IN_PROGRESS",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
        Rejected = "REJECTED",
        Removed = "REMOVED",
        Canceled = "CANCELED",
    }
);

impl ExecutionStatus {
    /// QUEUED and IN_PROGRESS executions can still change; every other status is final.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Queued | Self::InProgress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_accept_only_known_values() {
        let parsed: JobStatus = serde_json::from_str("\"CANCELED\"").unwrap();
        assert_eq!(parsed, JobStatus::Canceled);
        let error = serde_json::from_str::<TargetSelection>("\"SOMETIMES\"")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown variant `SOMETIMES`, expected `SNAPSHOT` or `CONTINUOUS`"),
            "{error}"
        );
    }

    #[test]
    fn unknown_service_values_pass_through() {
        let status = ExecutionStatus::from_service("PAUSED");
        assert_eq!(status, ExecutionStatus::Unknown("PAUSED".into()));
        assert_eq!(serde_json::to_string(&status).unwrap(), "\"PAUSED\"");
        assert!(status.is_terminal());
    }
}
