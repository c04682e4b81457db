//! The time the throttles, secret expiry and invitations go by: the system's, unless a test moves
//! it ahead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// The system's time, moved ahead by whatever [`Clock::advance`] added: nothing, unless a test
/// wants a lockout to end or a secret or an invitation to expire without waiting for it. Clones
/// share one clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_nanos: Arc<AtomicU64>,
}

impl Clock {
    /// Moves this clock, and every clone of it, `by` ahead.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self.ahead_nanos.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_add(by)));
    }

    fn ahead(&self) -> Duration {
        Duration::from_nanos(self.ahead_nanos.load(Ordering::Relaxed))
    }

    /// The time of day, for what is stored or compared with stored times (expiries).
    pub fn now_utc(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        time::Duration::try_from(self.ahead()).ok().and_then(|ahead| now.checked_add(ahead)).unwrap_or(now)
    }

    /// A monotonic instant, for what is only measured in this process (lockouts).
    pub fn instant(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.ahead()).unwrap_or(now)
    }
}

/// The throttles' rate limiters count on the same clock.
impl governor::clock::Clock for Clock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.instant()
    }
}
