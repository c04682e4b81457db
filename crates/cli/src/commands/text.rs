//! How results read as text: aligned tables with headers, and counts in proper English.

use std::io::Write;

/// Set when standard output carries data (`serve --siem-jsonl -`): lines said go to standard
/// error instead, so the data stays one JSON object a line.
static SAY_ON_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, [`say`] writes to standard error.
pub fn say_on_stderr() {
    SAY_ON_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Writes one line to standard output. A reader that went away (`trustgate serve | head -1`) is
/// no reason to stop: the line is dropped, where `println!` would panic.
pub fn say(line: impl std::fmt::Display) {
    if SAY_ON_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    } else {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// Columns separated by two spaces and padded to their widest cell; the last one is not padded,
/// so lines carry no trailing blanks.
pub fn table<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out
    };
    let mut lines = vec![line(headers)];
    lines.extend(rows.iter().map(|row| line(row.each_ref().map(String::as_str))));
    lines.join("\n")
}

/// `1 API client`, `2 API clients`, `0 API clients`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1 API client`, `3 API clients`.
pub fn api_clients(n: usize) -> String {
    count(u64::try_from(n).unwrap_or(u64::MAX), "API client", "API clients")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers() {
        let rows = [["acme".to_owned(), "Acme Corp".to_owned()], ["k7q2m9xw3hzp".to_owned(), "Mine".to_owned()]];
        assert_eq!(table(["ID", "NAME"], &rows), "ID            NAME\nacme          Acme Corp\nk7q2m9xw3hzp  Mine");
        assert_eq!(count(1, "API client", "API clients"), "1 API client");
        assert_eq!(count(0, "API client", "API clients"), "0 API clients");
    }
}
