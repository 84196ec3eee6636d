//! Wire types, validated identifiers, paging, the domain error and the `Backend` trait of the IoT
//! device management API. This crate does no I/O.

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
