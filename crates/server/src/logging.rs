//! Log output: human-readable text, or one JSON object a line for a log collector. Levels come
//! from `RUST_LOG` (docs/operations.md).
//!
//! Logging never blocks serving (issue #21, item 7): a line is handed to a bounded queue that one
//! thread of its own writes to stderr. When the reader stalls (a stuck log shipper, `trustgate
//! serve 2>&1 | head`), the queue fills and further lines are dropped and counted
//! (`trustgate_log_lines_dropped_total`) rather than blocking the request that logged them; once
//! output flows again, one warning line says how many were lost.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Lines the queue holds before it drops, by default: about 8 MiB at a kilobyte a line.
pub const DEFAULT_QUEUE_LINES: u64 = 8192;

/// The least time between two warnings about dropped lines.
const WARNING_INTERVAL: Duration = Duration::from_secs(5);

/// Lines dropped since the process started because the output was not being read.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped so far because the output was not being read.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

enum Message {
    Line(Vec<u8>),
    /// Written everything queued before this: acknowledge.
    Flush(SyncSender<()>),
}

/// The writer the logger formats into: each event is one `write` of a whole line, queued or
/// dropped, never waited for.
#[derive(Clone)]
pub struct NonBlocking {
    queue: SyncSender<Message>,
}

impl NonBlocking {
    /// A writer whose lines `output` receives on a thread of its own, at most `capacity` queued.
    pub fn new<W: Write + Send + 'static>(output: W, capacity: usize) -> (Self, LogGuard) {
        let (queue, lines) = mpsc::sync_channel(capacity);
        let worker = std::thread::Builder::new().name("log-writer".into()).spawn(move || write_lines(output, lines));
        if let Err(error) = worker {
            // Without the thread nothing is written: say so where it can still be seen.
            let _ = writeln!(std::io::stderr(), "cannot start the log writer: {error}");
        }
        (Self { queue: queue.clone() }, LogGuard { queue })
    }
}

impl Write for NonBlocking {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let captured = CAPTURE.with(|capture| match capture.borrow_mut().as_mut() {
            Some(line) => {
                line.extend_from_slice(buf);
                true
            }
            None => false,
        });
        if captured {
            return Ok(buf.len());
        }
        match self.queue.try_send(Message::Line(buf.to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
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

/// Writes the queued lines, and after a stall, once a write goes through again, one warning with
/// the number of lines lost meanwhile (at most one per [`WARNING_INTERVAL`], so a reader that keeps
/// falling behind reads lines, not warnings; drops not yet reported are reported when the interval
/// has passed, even if nothing else is logged).
fn write_lines<W: Write>(mut output: W, lines: Receiver<Message>) {
    let mut reported = 0;
    let mut last_warning: Option<Instant> = None;
    loop {
        match lines.recv_timeout(WARNING_INTERVAL) {
            // A failed write (a reader that went away) loses the line and nothing more.
            Ok(Message::Line(line)) => drop(output.write_all(&line)),
            Ok(Message::Flush(done)) => {
                let _ = output.flush();
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let dropped = DROPPED.load(Ordering::Relaxed);
        let due = last_warning.is_none_or(|at| at.elapsed() >= WARNING_INTERVAL);
        if dropped > reported && due {
            last_warning = Some(Instant::now());
            let lost = dropped - reported;
            reported = dropped;
            // Formatted by the logger as every line is, but written here and now: the queue may
            // still be full, and this is the line that must not be dropped.
            CAPTURE.with(|capture| *capture.borrow_mut() = Some(Vec::new()));
            tracing::warn!(lost, total = dropped, "log output was not being read: log lines were dropped");
            if let Some(warning) = CAPTURE.with(|capture| capture.borrow_mut().take()) {
                let _ = output.write_all(&warning);
            }
        }
    }
}

thread_local! {
    /// On the writer's own thread while it logs its warning: where the formatted line goes.
    static CAPTURE: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes what is queued when dropped (at exit), waiting at most a second.
pub struct LogGuard {
    queue: SyncSender<Message>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let (done, flushed) = mpsc::sync_channel(1);
        let mut message = Message::Flush(done);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
        let _ = flushed.recv_timeout(deadline.saturating_duration_since(Instant::now()));
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
    let logger = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => {
            let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            logger.with_ansi(colours).init();
        }
        LogFormat::Json => logger.json().flatten_event(true).with_current_span(false).with_span_list(true).init(),
    }
    guard
}
