//! Administrator passwords: argon2id on a fixed set of hashing threads.
//!
//! One argon2 hash needs 19 MiB of working memory. Run on the blocking pool, every concurrent
//! sign-in took its own 19 MiB, and the allocator kept it after the burst (256 wrong passwords
//! left the server at 14 GB resident). Here each hashing thread owns one block of argon2 memory,
//! allocated on its first hash and reused for every later one, so memory is fixed by the number
//! of threads; a thread left idle for [`IDLE`] gives the block back. A hash waits at most
//! [`HashLimits::max_wait`] for a thread; past that the caller is told to retry later. The pool
//! belongs to the process, not to one server, because the memory it bounds does: the CLI's hashes
//! (admin creation, set-password) go through it too. The threads run at a lower priority, so a
//! flood of sign-ins slows token grants as little as possible.

use std::cell::RefCell;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use allocator_api2::alloc::System;
use argon2::password_hash::{
    Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 256;

/// What a caller refused for lack of a hashing thread is told to wait before retrying.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long a hashing thread waits for work before it gives its argon2 memory back to the system.
const IDLE: Duration = Duration::from_secs(2);

/// How many passwords may be hashed at once, and how long a hash may wait for its turn.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub threads: usize,
    pub max_wait: Duration,
}

impl Default for HashLimits {
    fn default() -> Self {
        Self { threads: std::thread::available_parallelism().map_or(1, |n| n.get()), max_wait: Duration::from_secs(1) }
    }
}

type Job = Box<dyn FnOnce(&Hasher) + Send>;

struct Pool {
    jobs: mpsc::Sender<Job>,
    /// One permit per thread, so a job never waits in the channel and the wait is bounded here.
    permits: Arc<Semaphore>,
    max_wait: Duration,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Starts the process's hashing threads with `limits`; call it before the first hash, which
/// otherwise starts them with [`HashLimits::default`].
pub fn configure(limits: HashLimits) {
    POOL.get_or_init(|| Pool::start(limits));
}

impl Pool {
    fn start(limits: HashLimits) -> Self {
        let threads = limits.threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("trustgate-hash-{i}")).spawn(move || {
                lower_priority();
                let hasher = Hasher { memory: RefCell::new(WorkingMemory::new_in(System)) };
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv_timeout(IDLE),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&hasher),
                        Err(RecvTimeoutError::Timeout) => {
                            hasher.release();
                            // The lock just freed is not handed over fairly: pausing lets another
                            // idle thread take it, time out too, and give its memory back.
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password-hashing thread");
            }
        }
        Self { jobs, permits: Arc::new(Semaphore::new(threads)), max_wait: limits.max_wait }
    }
}

/// Nice value of the hashing threads: with every core hashing during a flood of sign-ins, token
/// grants and API calls still get the processor first.
#[cfg(target_os = "linux")]
const HASHING_NICENESS: i32 = 10;

/// Linux gives each thread its own nice value, so this lowers the calling thread only.
#[cfg(target_os = "linux")]
fn lower_priority() {
    if let Err(error) = rustix::process::setpriority_process(None, HASHING_NICENESS) {
        tracing::warn!(%error, "cannot lower the priority of a password-hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Runs `work` on a hashing thread, or refuses when none frees up within the allowed wait.
async fn on_hashing_thread<T: Send + 'static>(work: impl FnOnce(&Hasher) -> T + Send + 'static) -> Result<T, ApiError> {
    let pool = POOL.get_or_init(|| Pool::start(HashLimits::default()));
    let permit: OwnedSemaphorePermit =
        match tokio::time::timeout(pool.max_wait, pool.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(ApiError::Internal),
            Err(_) => {
                return Err(ApiError::RetryLater {
                    retry_after: RETRY_AFTER,
                    reason: "too many passwords are being checked at once",
                })
            }
        };
    let (done, result) = oneshot::channel();
    // The permit travels with the job: a caller that gives up does not free a thread still busy.
    let job: Job = Box::new(move |hasher| {
        let _ = done.send(work(hasher));
        drop(permit);
    });
    pool.jobs.send(job).map_err(|_| ApiError::Internal)?;
    result.await.map_err(|_| ApiError::Internal)
}

/// Blocks reserved for a thread's working memory: more than 32 MiB, glibc's largest threshold for
/// serving an allocation from a mapping of its own. Freeing a smaller mapped block raises that
/// threshold to its size, so the next one would come from a heap that glibc does not give back;
/// one this large is always mapped, and unmapped when freed. Reserved pages never written cost
/// no memory.
const RESERVED_BLOCKS: usize = 33 * 1024;

/// A hashing thread's argon2 memory, taken from the C library's allocator rather than the
/// process's (mimalloc, see the binary's `main.rs`): mimalloc kept a freed block of this size
/// resident while the thread idled (its purges run on later allocator calls, which an idle thread
/// does not make), while glibc unmaps it at once (see [`RESERVED_BLOCKS`]).
type WorkingMemory = allocator_api2::vec::Vec<Block, System>;

/// argon2 over one thread's reused working memory.
struct Hasher {
    memory: RefCell<WorkingMemory>,
}

impl PasswordHasher for Hasher {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm.map(Algorithm::try_from).transpose()?.unwrap_or_default();
        let version = version.map(Version::try_from).transpose()?.unwrap_or_default();
        let salt = salt.into();
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut memory = self.memory.borrow_mut();
        // Allocated at the largest cost among the stored hashes (all of them written here), and
        // kept until the thread idles.
        if memory.len() < params.block_count() {
            let mut fresh = WorkingMemory::with_capacity_in(params.block_count().max(RESERVED_BLOCKS), System);
            fresh.resize(params.block_count(), Block::default());
            *memory = fresh;
        }
        let output = Output::init_with(params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN), |out| {
            Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])?)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

impl Hasher {
    /// Frees the working memory, so after a burst of sign-ins the server's resident memory falls
    /// back by 19 MiB a thread (see [`RESERVED_BLOCKS`]); the next hash allocates it again.
    fn release(&self) {
        *self.memory.borrow_mut() = WorkingMemory::new_in(System);
    }

    fn hash(&self, password: &str) -> Result<String, ApiError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| ApiError::Internal)?;
        let salt = SaltString::encode_b64(&salt).map_err(|_| ApiError::Internal)?;
        self.hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| ApiError::Internal)
    }

    fn verify(&self, password: &str, stored: &str) -> bool {
        PasswordHash::new(stored).is_ok_and(|hash| self.verify_password(password.as_bytes(), &hash).is_ok())
    }
}

/// A hash of a random password, verified against when the e-mail is unknown, so a sign-in takes
/// as long for a wrong e-mail as for a wrong password.
static DECOY: OnceLock<Option<String>> = OnceLock::new();

pub fn check_strength(password: &str) -> Result<(), trustgate_core::ValidationError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(trustgate_core::ValidationError::out_of_range(
            "password",
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(trustgate_core::ValidationError::too_long("password", MAX_PASSWORD_LEN));
    }
    Ok(())
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    on_hashing_thread(move |hasher| hasher.hash(&password)).await?
}

/// Whether `password` matches `stored`; with `None` it still spends the time of one verification.
/// Refused with [`ApiError::RetryLater`] when every hashing thread stays busy.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    on_hashing_thread(move |hasher| {
        let decoy = DECOY.get_or_init(|| hasher.hash("decoy password that never matches").ok());
        let Some(stored) = stored.as_ref().or(decoy.as_ref()) else { return false };
        hasher.verify(&password, stored) && stored.as_str() != decoy.as_deref().unwrap_or_default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashing_thread_that_gave_its_memory_back_still_hashes_and_verifies() {
        let hasher = Hasher { memory: RefCell::new(WorkingMemory::new_in(System)) };
        let before = hasher.hash("correct horse battery").unwrap();
        hasher.release();
        assert!(hasher.verify("correct horse battery", &before));
        assert!(!hasher.verify("correct horse battery!", &before));
        let after = hasher.hash("staple and more").unwrap();
        hasher.release();
        hasher.release();
        assert!(hasher.verify("staple and more", &after));
    }
}
