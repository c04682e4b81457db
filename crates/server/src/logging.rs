//! Log output: human-readable text, or one JSON object a line for a log collector. Levels come
//! from `RUST_LOG` (docs/operations.md).
//!
//! Logging never blocks serving (issue #21, item 7) and costs a request little (issue #26, item 1):
//! a formatted line is appended to a shared buffer, without an allocation, a system call or a
//! wake-up of its own, and one thread of its own writes what has gathered to stderr at most every
//! [`BATCH_INTERVAL`], in one write. When the reader stalls (a stuck log shipper, `trustgate serve
//! 2>&1 | head`), the buffer fills and further lines are dropped and counted
//! (`trustgate_log_lines_dropped_total`) rather than blocking the request that logged them; once
//! output flows again, one warning line says how many were lost.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub mod access_line;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Lines the buffer holds before it drops, by default: about 8 MiB at a kilobyte a line.
pub const DEFAULT_QUEUE_LINES: u64 = 8192;

/// The least time between two writes: lines gather meanwhile, so a busy server makes a write
/// system call every few milliseconds rather than one a line; also the longest a line waits.
const BATCH_INTERVAL: Duration = Duration::from_millis(5);

/// The least time between two warnings about dropped lines.
const WARNING_INTERVAL: Duration = Duration::from_secs(5);

/// Lines dropped since the process started because the output was not being read.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped so far because the output was not being read.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// What the loggers and the writing thread share.
struct Shared {
    pending: Mutex<Pending>,
    /// The writer waits here, when it has nothing to write, for a line or a flush.
    work: Condvar,
    /// A flush waits here for the writer to have written what came before it.
    written: Condvar,
    capacity: usize,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    lines: usize,
    /// The writer is waiting on `work`: the next line wakes it (only that one, so a busy server
    /// wakes it at most once a batch).
    idle: bool,
    /// Flushes asked for, and the number of them whose lines are written.
    flushes_asked: u64,
    flushes_done: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only bytes behind: keep logging.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writer the logger formats into: each event is one `write` of a whole line, buffered or
/// dropped, never waited for.
#[derive(Clone)]
pub struct NonBlocking {
    shared: Arc<Shared>,
}

impl NonBlocking {
    /// A writer whose lines `output` receives on a thread of its own, at most `capacity` waiting.
    pub fn new<W: Write + Send + 'static>(output: W, capacity: usize) -> (Self, LogGuard) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            work: Condvar::new(),
            written: Condvar::new(),
            capacity: capacity.max(1),
        });
        let for_writer = Arc::clone(&shared);
        let worker =
            std::thread::Builder::new().name("log-writer".into()).spawn(move || write_lines(output, &for_writer));
        if let Err(error) = worker {
            // Without the thread nothing is written: say so where it can still be seen.
            let _ = writeln!(std::io::stderr(), "cannot start the log writer: {error}");
        }
        (Self { shared: Arc::clone(&shared) }, LogGuard { shared })
    }

    /// Appends one whole line: buffered, or dropped and counted when the buffer is full.
    fn append(&self, buf: &[u8]) {
        let captured = CAPTURE.with(|capture| match capture.borrow_mut().as_mut() {
            Some(line) => {
                line.extend_from_slice(buf);
                true
            }
            None => false,
        });
        if captured {
            return;
        }
        let mut pending = self.shared.lock();
        if pending.lines >= self.shared.capacity {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.bytes.extend_from_slice(buf);
        pending.lines += 1;
        if pending.idle {
            pending.idle = false;
            self.shared.work.notify_one();
        }
    }
}

impl Write for NonBlocking {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = NonBlocking;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes what gathered, one write a batch, and after a stall, once a write goes through again,
/// one warning with the number of lines lost meanwhile (at most one per [`WARNING_INTERVAL`], so a
/// reader that keeps falling behind reads lines, not warnings; drops not yet reported are reported
/// when the interval has passed, even if nothing else is logged). Runs until the process exits.
fn write_lines<W: Write>(mut output: W, shared: &Shared) {
    let mut batch = Vec::new();
    let mut reported = 0;
    let mut last_warning: Option<Instant> = None;
    loop {
        let flushes = {
            let mut pending = shared.lock();
            if pending.bytes.is_empty() && pending.flushes_asked == pending.flushes_done {
                pending.idle = true;
                pending =
                    shared.work.wait_timeout(pending, WARNING_INTERVAL).map_or_else(|e| e.into_inner().0, |w| w.0);
                pending.idle = false;
            }
            std::mem::swap(&mut pending.bytes, &mut batch);
            pending.lines = 0;
            pending.flushes_asked
        };
        let started = Instant::now();
        if !batch.is_empty() {
            // A failed write (a reader that went away) loses the batch and nothing more.
            let _ = output.write_all(&batch);
            batch.clear();
        }
        let dropped = DROPPED.load(Ordering::Relaxed);
        let due = last_warning.is_none_or(|at| at.elapsed() >= WARNING_INTERVAL);
        if dropped > reported && due {
            last_warning = Some(Instant::now());
            let lost = dropped - reported;
            reported = dropped;
            // Formatted by the logger as every line is, but written here and now: the buffer may
            // still be full, and this is the line that must not be dropped.
            CAPTURE.with(|capture| *capture.borrow_mut() = Some(Vec::new()));
            tracing::warn!(lost, total = dropped, "log output was not being read: log lines were dropped");
            if let Some(warning) = CAPTURE.with(|capture| capture.borrow_mut().take()) {
                let _ = output.write_all(&warning);
            }
        }
        let mut pending = shared.lock();
        if flushes > pending.flushes_done {
            let _ = output.flush();
            pending.flushes_done = flushes;
            shared.written.notify_all();
            continue;
        }
        drop(pending);
        if let Some(rest) = BATCH_INTERVAL.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

thread_local! {
    /// On the writer's own thread while it logs its warning: where the formatted line goes.
    static CAPTURE: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes what is buffered when dropped (at exit), waiting at most a second.
pub struct LogGuard {
    shared: Arc<Shared>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut pending = self.shared.lock();
        pending.flushes_asked += 1;
        let asked = pending.flushes_asked;
        self.shared.work.notify_one();
        while pending.flushes_done < asked {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = match self.shared.written.wait_timeout(pending, left) {
                Ok((pending, _)) => pending,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}
/// Installs the process's logger, writing to stderr at `default_level` unless `RUST_LOG` says
/// otherwise, through a [`NonBlocking`] queue; keep the guard until exit, so what is queued gets
/// written. Text is coloured only on a terminal (and never with `NO_COLOR` set): escape codes in a
/// file or a pipe are noise to whatever reads it.
#[must_use = "dropping the guard early writes no more than what was queued by then"]
pub fn init(format: LogFormat, default_level: &str, queue_lines: u64) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let (writer, guard) = NonBlocking::new(std::io::stderr(), usize::try_from(queue_lines).unwrap_or(usize::MAX));
    let logger = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer.clone());
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if format == LogFormat::Json || !colours {
        access_line::install(writer, format);
    }
    match format {
        LogFormat::Text => logger.with_ansi(colours).init(),
        LogFormat::Json => logger.json().flatten_event(true).with_current_span(false).with_span_list(true).init(),
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output a test can read back.
    #[derive(Clone, Default)]
    pub(super) struct Collected(pub(super) Arc<Mutex<Vec<u8>>>);

    impl<'a> MakeWriter<'a> for Collected {
        type Writer = Collected;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Write for Collected {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_reaches_the_output_in_order_by_the_time_the_guard_is_dropped() {
        let output = Collected::default();
        let (writer, guard) = NonBlocking::new(output.clone(), 10_000);
        for n in 0..5_000 {
            writer.make_writer().write_all(format!("line {n}\n").as_bytes()).unwrap();
        }
        drop(guard);
        let text = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
        let expected: String = (0..5_000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn lines_past_the_buffer_are_dropped_and_counted_while_the_output_is_stuck() {
        let stuck = Arc::new(Mutex::new(()));
        let held = stuck.lock().unwrap();
        struct Stuck(Arc<Mutex<()>>);
        impl Write for Stuck {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                drop(self.0.lock());
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (writer, _guard) = NonBlocking::new(Stuck(Arc::clone(&stuck)), 8);
        let before = dropped_lines();
        let started = Instant::now();
        for _ in 0..100 {
            writer.make_writer().write_all(b"a line\n").unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(1), "writing never waits for the output");
        assert!(dropped_lines() - before >= 100 - 2 * 8, "at most the buffer and one batch in the writer's hands");
        drop(held);
    }
}
