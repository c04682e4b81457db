//! The access line written by hand (issue #26, item 1): the same text or JSON `tracing`'s formatter
//! would write for the `trustgate::access` event, without its per-event work (dispatch, field
//! visitors, span lookup), which cost `/healthz` a tenth of its throughput. The tests below hold
//! the two byte for byte.

use std::cell::RefCell;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

use super::{LogFormat, NonBlocking};

/// The `tracing` target of the access line, which `RUST_LOG` directives name.
pub const TARGET: &str = "trustgate::access";

/// One request, as its access line reports it.
pub struct AccessLine<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub transaction_id: &'a str,
}

/// Where and how access lines go when [`super::init`] installed the logger without colours (a
/// terminal's escape codes are left to `tracing`: speed does not matter there).
struct Output {
    writer: NonBlocking,
    format: LogFormat,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

pub(super) fn install(writer: NonBlocking, format: LogFormat) {
    let _ = OUTPUT.set(Output { writer, format });
}

/// A thread's line buffer and its clock's last second, reused from request to request.
struct Scratch {
    line: Vec<u8>,
    clock: Clock,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> =
        const { RefCell::new(Scratch { line: Vec::new(), clock: Clock { second: 0, prefix: [0; 19] } }) };
}

/// Writes `line` into the log buffer in the installed format or, when no such output is installed
/// (a test's own subscriber, colours on a terminal), logs it through `tracing`. The caller has
/// checked that the target is enabled.
pub fn write(line: &AccessLine<'_>) {
    let Some(output) = OUTPUT.get() else {
        return through_tracing(line);
    };
    SCRATCH.with(|scratch| {
        let Scratch { line: bytes, clock } = &mut *scratch.borrow_mut();
        bytes.clear();
        let timestamp = clock.timestamp(SystemTime::now());
        format(output.format, &timestamp, line, bytes);
        output.writer.append(bytes);
    });
}

/// The event the hand-written line stands for.
fn through_tracing(line: &AccessLine<'_>) {
    tracing::info!(
        target: TARGET,
        method = %line.method,
        route = %line.route,
        status = line.status,
        latency_ms = line.latency_ms,
        transaction_id = line.transaction_id,
        "request"
    );
}

/// A timestamp as `tracing`'s clock writes it, `2026-12-08T00:08:47.123456Z`, the date and time
/// of day worked out once a second.
#[derive(Default)]
struct Clock {
    second: u64,
    prefix: [u8; 19],
}

impl Clock {
    fn timestamp(&mut self, now: SystemTime) -> [u8; 27] {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since.as_secs();
        if second != self.second || self.prefix[0] == 0 {
            let at = i64::try_from(second).ok().and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
            let at = at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let mut prefix = Vec::with_capacity(19);
            let _ = write!(
                prefix,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            if let Ok(prefix) = prefix.try_into() {
                self.prefix = prefix;
                self.second = second;
            }
        }
        let mut stamp = [0u8; 27];
        stamp[..19].copy_from_slice(&self.prefix);
        stamp[19] = b'.';
        let mut micros = since.subsec_micros();
        for digit in stamp[20..26].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        stamp[26] = b'Z';
        stamp
    }
}

fn format(format: LogFormat, timestamp: &[u8], line: &AccessLine<'_>, out: &mut Vec<u8>) {
    match format {
        LogFormat::Text => {
            out.extend_from_slice(timestamp);
            out.extend_from_slice(b"  INFO ");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b": request method=");
            out.extend_from_slice(line.method.as_bytes());
            out.extend_from_slice(b" route=");
            out.extend_from_slice(line.route.as_bytes());
            out.extend_from_slice(b" status=");
            push_number(out, line.status);
            // Writing into a Vec cannot fail.
            let _ = write!(out, " latency_ms={:?} transaction_id=", line.latency_ms);
            if plain(line.transaction_id) {
                push_quoted(out, line.transaction_id);
            } else {
                let _ = write!(out, "{:?}", line.transaction_id);
            }
        }
        LogFormat::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            out.extend_from_slice(timestamp);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"method\":");
            json_string(out, line.method);
            out.extend_from_slice(b",\"route\":");
            json_string(out, line.route);
            out.extend_from_slice(b",\"status\":");
            push_number(out, line.status);
            out.extend_from_slice(b",\"latency_ms\":");
            let _ = serde_json::to_writer(&mut *out, &line.latency_ms);
            out.extend_from_slice(b",\"transaction_id\":");
            json_string(out, line.transaction_id);
            out.extend_from_slice(b",\"target\":\"");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
    out.push(b'\n');
}

fn push_number(out: &mut Vec<u8>, number: u16) {
    let mut digits = [0u8; 5];
    let mut rest = number;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Text that both `Debug` and JSON quote unchanged: printable ASCII without quotes or backslashes
/// (what transaction ids, methods and route templates are).
fn plain(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

fn push_quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    if plain(text) {
        push_quoted(out, text);
    } else {
        let _ = serde_json::to_writer(out, text);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::FormatTime;

    use super::*;
    use crate::logging::tests::Collected;

    struct Fixed;

    const AT: &str = "2026-12-08T00:08:47.123456Z";

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
            w.write_str(AT)
        }
    }

    /// The line `tracing` writes for the same request, as `super::init` configures it.
    fn by_tracing(format: LogFormat, line: &AccessLine<'_>) -> String {
        let caught = Collected::default();
        let logger = tracing_subscriber::fmt().with_writer(caught.clone()).with_timer(Fixed).with_ansi(false);
        let log = || through_tracing(line);
        match format {
            LogFormat::Text => tracing::subscriber::with_default(logger.finish(), log),
            LogFormat::Json => tracing::subscriber::with_default(
                logger.json().flatten_event(true).with_current_span(false).with_span_list(true).finish(),
                log,
            ),
        }
        let bytes = caught.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn by_hand(format: LogFormat, line: &AccessLine<'_>) -> String {
        let mut out = Vec::new();
        super::format(format, AT.as_bytes(), line, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_hand_written_access_line_is_the_one_tracing_writes_in_text_and_json() {
        let lines = [
            AccessLine {
                method: "POST",
                route: "/cctrustoauth2/{customer}/tokens/clients",
                status: 200,
                latency_ms: 0.123_456,
                transaction_id: "6f1c2a9e-0b7d-4f6e-9a51-2c3d4e5f6a7b",
            },
            AccessLine { method: "GET", route: "/healthz", status: 404, latency_ms: 1e-7, transaction_id: "-" },
            AccessLine {
                method: "PATCH",
                route: "unmatched",
                status: 503,
                latency_ms: 12_345.0,
                transaction_id: "a\"b\\c",
            },
        ];
        for format in [LogFormat::Text, LogFormat::Json] {
            for line in &lines {
                assert_eq!(by_hand(format, line), by_tracing(format, line), "{format:?}");
            }
        }
    }

    #[test]
    fn the_clock_writes_utc_to_the_microsecond_and_moves_on_with_the_second() {
        let mut clock = Clock::default();
        let at = |seconds: u64, micros: u64| UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros);
        let stamp = |clock: &mut Clock, time| String::from_utf8(clock.timestamp(time).to_vec()).unwrap();
        assert_eq!(stamp(&mut clock, at(1_796_688_527, 123_456)), "2026-12-08T00:08:47.123456Z");
        assert_eq!(stamp(&mut clock, at(1_796_688_527, 7)), "2026-12-08T00:08:47.000007Z");
        assert_eq!(stamp(&mut clock, at(951_868_799, 999_999)), "2000-02-29T23:59:59.999999Z");
        assert_eq!(stamp(&mut clock, at(951_868_800, 0)), "2000-03-01T00:00:00.000000Z");
    }

    #[test]
    fn the_clock_agrees_with_the_one_tracing_writes_lines_with() {
        let mut clock = Clock::default();
        for _ in 0..10 {
            let mut theirs = String::new();
            tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut theirs)).unwrap();
            let ours = clock.timestamp(SystemTime::now());
            if theirs.as_bytes()[..19] == ours[..19] {
                assert_eq!(theirs.len(), ours.len(), "{theirs}");
                return;
            }
        }
        panic!("the two clocks never agreed on the second");
    }

    #[test]
    fn a_json_access_line_is_one_parseable_object_with_every_field() {
        let line = AccessLine { method: "GET", route: "/healthz", status: 200, latency_ms: 0.5, transaction_id: "t-1" };
        let written = by_hand(LogFormat::Json, &line);
        assert_eq!(written.matches('\n').count(), 1);
        let value: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(value["route"], "/healthz");
        assert_eq!(value["status"], 200);
        assert_eq!(value["latency_ms"], 0.5);
        assert_eq!(value["target"], TARGET);
    }
}
