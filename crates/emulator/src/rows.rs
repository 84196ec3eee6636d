//! Columns in and out: what a row holds, read back as typed values (identifiers, statuses, JSON
//! configurations) and written from them. A stored value that no longer reads as its type, or a
//! value that cannot be written, fails loudly as an internal error naming the column; nothing is
//! replaced by a default.

use models::DomainError;
use rusqlite::types::Type;
use rusqlite::Row;
use serde::de::value::{Error as ValueError, StringDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Serialize;

use crate::db::{Fail, Res};

/// A row conversion failure of `column`.
fn unreadable(row: &Row<'_>, column: &str, error: impl std::fmt::Display) -> rusqlite::Error {
    let index = row.as_ref().column_index(column).unwrap_or(0);
    rusqlite::Error::FromSqlConversionFailure(
        index,
        Type::Text,
        format!("stored {column} does not read back: {error}").into(),
    )
}

/// A text as `T` reads it: identifiers and statuses parse themselves on deserializing.
fn parse<T: DeserializeOwned>(text: String) -> Result<T, ValueError> {
    let deserializer: StringDeserializer<ValueError> = text.into_deserializer();
    T::deserialize(deserializer)
}

/// A TEXT column as `T` (an identifier, a status, a selection).
pub(crate) fn text<T: DeserializeOwned>(row: &Row<'_>, column: &str) -> rusqlite::Result<T> {
    parse(row.get(column)?).map_err(|e| unreadable(row, column, e))
}

/// A nullable TEXT column as `T`.
pub(crate) fn text_opt<T: DeserializeOwned>(
    row: &Row<'_>,
    column: &str,
) -> rusqlite::Result<Option<T>> {
    row.get::<_, Option<String>>(column)?
        .map(parse)
        .transpose()
        .map_err(|e| unreadable(row, column, e))
}

/// A column holding JSON this emulator wrote.
pub(crate) fn json<T: DeserializeOwned>(row: &Row<'_>, column: &str) -> rusqlite::Result<T> {
    serde_json::from_str(&row.get::<_, String>(column)?).map_err(|e| unreadable(row, column, e))
}

/// A nullable column holding JSON this emulator wrote.
pub(crate) fn json_opt<T: DeserializeOwned>(
    row: &Row<'_>,
    column: &str,
) -> rusqlite::Result<Option<T>> {
    row.get::<_, Option<String>>(column)?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| unreadable(row, column, e))
}

/// A value as the JSON text a column stores.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Res<String> {
    serde_json::to_string(value).map_err(|e| {
        Fail::Domain(DomainError::Internal(format!(
            "a value could not be written as JSON: {e}"
        )))
    })
}

/// An optional value as the JSON text a nullable column stores.
pub(crate) fn to_json_opt<T: Serialize>(value: &Option<T>) -> Res<Option<String>> {
    value.as_ref().map(to_json).transpose()
}

/// JSON text already read from the store (outside a row mapping) as `T`.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Res<T> {
    serde_json::from_str(text).map_err(|e| {
        Fail::Domain(DomainError::Internal(format!(
            "stored JSON does not read back: {e}"
        )))
    })
}

/// A text already read from the store (outside a row mapping) as `T`.
pub(crate) fn stored<T: DeserializeOwned>(text: String) -> Res<T> {
    parse(text.clone()).map_err(|e| {
        Fail::Domain(DomainError::Internal(format!(
            "stored value {text:?} does not read back: {e}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use models::ids::ThingName;
    use models::job::JobStatus;
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn stored_values_read_back_as_their_types_or_fail_naming_the_column() {
        let conn = Connection::open_in_memory().unwrap();
        let read = |sql: &str| -> rusqlite::Result<(JobStatus, Option<ThingName>, Vec<u8>)> {
            conn.query_row(sql, [], |r| {
                Ok((text(r, "status")?, text_opt(r, "thing")?, json(r, "bytes")?))
            })
        };
        let (status, thing, bytes) =
            read("SELECT 'IN_PROGRESS' AS status, 'lamp-1' AS thing, '[1,2]' AS bytes").unwrap();
        assert_eq!(status, JobStatus::InProgress);
        assert_eq!(thing.unwrap().as_str(), "lamp-1");
        assert_eq!(bytes, [1, 2]);
        let (_, thing, _) =
            read("SELECT 'CANCELED' AS status, NULL AS thing, '[]' AS bytes").unwrap();
        assert!(thing.is_none());

        let error = read("SELECT 'SOMETIMES' AS status, NULL AS thing, '[]' AS bytes")
            .unwrap_err()
            .to_string();
        assert!(error.contains("stored status"), "{error}");
        let error = read("SELECT 'CANCELED' AS status, 'a b' AS thing, '[]' AS bytes")
            .unwrap_err()
            .to_string();
        assert!(error.contains("stored thing"), "{error}");
        let error = read("SELECT 'CANCELED' AS status, NULL AS thing, '{' AS bytes")
            .unwrap_err()
            .to_string();
        assert!(error.contains("stored bytes"), "{error}");
    }

    #[test]
    fn values_outside_rows_read_back_or_fail_loudly() {
        assert_eq!(
            stored::<JobStatus>("COMPLETED".into()).unwrap(),
            JobStatus::Completed
        );
        assert!(matches!(
            stored::<ThingName>("not a name!".into()),
            Err(Fail::Domain(DomainError::Internal(_)))
        ));
        assert_eq!(to_json_opt(&Some(vec![1])).unwrap().as_deref(), Some("[1]"));
        assert_eq!(to_json_opt::<u8>(&None).unwrap(), None);
    }
}
