//! How many sign-ins through a provider one source address may start: each start fetches the
//! provider's discovery document and stores the pending sign-in, so a stranger starting them in a
//! loop (112–192 a second, issue #20) costs the provider requests and the store writes that slow
//! everyone's. A person starts one, or a few after mistakes; the budget is per minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Starts a source may make in a window: a person retrying after a mistake stays well within.
pub const STARTS_PER_WINDOW: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Sources remembered at once (about 50 bytes each): a flood from more addresses than this is
/// refused until windows expire, rather than growing memory.
const CAPACITY: usize = 100_000;

pub struct SignInStarts {
    by_source: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl Default for SignInStarts {
    fn default() -> Self {
        Self { by_source: Mutex::new(HashMap::new()) }
    }
}

impl SignInStarts {
    /// Counts a start from `source`; `Err(retry_after)` when its budget is spent.
    pub fn spend(&self, source: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Ok(mut by_source) = self.by_source.lock() else { return Err(WINDOW) };
        if by_source.len() >= CAPACITY && !by_source.contains_key(&source) {
            by_source.retain(|_, (since, _)| now.duration_since(*since) < WINDOW);
            if by_source.len() >= CAPACITY {
                return Err(WINDOW);
            }
        }
        let (since, spent) = by_source.entry(source).or_insert((now, 0));
        if now.duration_since(*since) >= WINDOW {
            (*since, *spent) = (now, 0);
        }
        if *spent >= STARTS_PER_WINDOW {
            return Err(WINDOW.saturating_sub(now.duration_since(*since)).max(Duration::from_secs(1)));
        }
        *spent += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_starts_ten_sign_ins_a_minute_and_others_are_not_held_up() {
        let starts = SignInStarts::default();
        let (stranger, person) = (Some(IpAddr::from([192, 0, 2, 1])), Some(IpAddr::from([192, 0, 2, 2])));
        let now = Instant::now();
        for _ in 0..STARTS_PER_WINDOW {
            assert_eq!(starts.spend(stranger, now), Ok(()));
        }
        let retry = starts.spend(stranger, now + Duration::from_secs(10)).err();
        assert_eq!(retry, Some(Duration::from_secs(50)));
        assert_eq!(starts.spend(person, now), Ok(()));
        assert_eq!(starts.spend(stranger, now + WINDOW), Ok(()), "a new window");
    }
}
