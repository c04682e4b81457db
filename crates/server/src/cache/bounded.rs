//! The bounded map under every cache: `quick_cache`'s sharded concurrent cache. Its S3-FIFO policy
//! admits a new key on probation and keeps the keys asked for again (ghost entries remember the
//! recently dropped), so a scan over many clients cannot push out the ones in steady use, and a
//! full cache drops one entry instead of all of them.
//! Evictions for space are counted into the cache's `evictions` metric.

use std::hash::Hash;

use prometheus::IntCounter;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter};

/// Counts the entries the cache drops to make room.
#[derive(Clone)]
pub struct CountEvictions(IntCounter);

impl<K, V> Lifecycle<K, V> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), _: K, _: V) {
        self.0.inc();
    }
}

pub type Bounded<K, V> = Cache<K, V, UnitWeighter, DefaultHashBuilder, CountEvictions>;

/// A cache of at most `capacity` entries (at least one).
pub fn bounded<K: Eq + Hash, V: Clone>(capacity: usize, evictions: IntCounter) -> Bounded<K, V> {
    let capacity = capacity.max(1);
    Cache::with(capacity, capacity as u64, UnitWeighter, DefaultHashBuilder::default(), CountEvictions(evictions))
}
