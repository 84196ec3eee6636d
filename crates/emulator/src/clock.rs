//! Time as the store keeps it (milliseconds since the Unix epoch, UTC), and the clock that says
//! what time it is: the system's, or one that moves only when told, for tests and for trying a
//! rollout without waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

pub(crate) type Millis = i64;

/// What time it is, for the emulator.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system's clock.
    System,
    /// A clock that stands still until advanced; clones share the time.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock showing `start`.
    pub fn manual(start: OffsetDateTime) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(millis(start))))
    }

    pub fn now(&self) -> OffsetDateTime {
        timestamp(self.millis())
    }

    pub(crate) fn millis(&self) -> Millis {
        match self {
            Clock::System => millis(OffsetDateTime::now_utc()),
            Clock::Manual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; false for the system clock, which moves by itself.
    pub fn advance(&self, by: Duration) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(now) => {
                let by = Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX);
                now.fetch_add(by, Ordering::SeqCst);
                true
            }
        }
    }

    /// Sets a manual clock to `to` if that is later than its time (a manual clock never goes
    /// back); false for the system clock.
    pub fn set_at_least(&self, to: OffsetDateTime) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(now) => {
                now.fetch_max(millis(to), Ordering::SeqCst);
                true
            }
        }
    }
}

pub(crate) fn millis(at: OffsetDateTime) -> Millis {
    (at.unix_timestamp_nanos() / 1_000_000) as Millis
}

pub(crate) fn timestamp(millis: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
