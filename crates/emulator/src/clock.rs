//! Time as the store keeps it: milliseconds since the Unix epoch, UTC.

use time::OffsetDateTime;

pub(crate) type Millis = i64;

pub(crate) fn now() -> Millis {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as Millis
}

pub(crate) fn timestamp(millis: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
