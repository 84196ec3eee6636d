//! Wire types, validated identifiers, paging, the domain error and the `Backend` trait of the IoT
//! device management API. This crate does no I/O.

/// A string newtype whose every value passed `check` (a `fn(&str) -> Result<(), String>` saying
/// which rule a value breaks): `parse`, `as_str`, `MAX_LEN` (in characters), serde through
/// `String` (so a body holding a bad value is refused as it is read), and `Display`.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $max:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(
            Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest value accepted, in characters.
            pub const MAX_LEN: usize = $max;

            pub fn parse(value: impl Into<String>) -> Result<Self, String> {
                let value: String = value.into();
                let check: fn(&str) -> Result<(), String> = $check;
                check(&value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub mod backend;
pub mod device;
pub mod digest;
pub mod enums;
pub mod error;
pub mod fields;
pub mod files;
pub mod ids;
pub mod job;
pub mod page;
pub mod query;
pub mod registry;
pub mod shadow;

pub use backend::{Backend, Catalog, Registry};
pub use error::{DomainError, Result};
pub use page::{MaxResults, NextToken, Page, PageRequest};
