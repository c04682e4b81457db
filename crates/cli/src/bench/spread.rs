//! Several runs of the same figures, reduced to what can be quoted: the median, with the lowest
//! and highest beside it. A target counts as met when the median meets it.

use super::measure::Row;

/// The median of some samples, and their range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Spread {
    pub(super) median: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Spread {
    /// `None` for no samples. With an even count, the median is the mean of the middle two.
    pub(super) fn of(samples: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut values: Vec<f64> = samples.into_iter().collect();
        values.sort_by(f64::total_cmp);
        let (first, last) = (*values.first()?, *values.last()?);
        let mid = values.len() / 2;
        let median = if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 };
        Some(Self { median, min: first, max: last })
    }

    /// `12345 (11000–13000)`, or the value alone for one run; `unit` follows each number.
    pub(super) fn show(&self, decimals: usize, unit: &str) -> String {
        let (min, max) = (format!("{:.decimals$}", self.min), format!("{:.decimals$}", self.max));
        if min == max {
            format!("{:.decimals$}{unit}", self.median)
        } else {
            format!("{:.decimals$}{unit} ({min}–{max}{unit})", self.median)
        }
    }
}

/// One figure over every run: the rows each run produced at the same place.
pub(super) struct Figure<'a> {
    /// The run whose rate is the median's, or nearest it: its label and side notes are shown.
    pub(super) typical: &'a Row,
    pub(super) rate: Spread,
    pub(super) p50_ms: Spread,
    pub(super) p99_ms: Spread,
    /// Percent of the baseline measured in the same run.
    pub(super) ratio: Spread,
    /// Percent of what this machine's cores allow for the figure, where it has such a limit.
    pub(super) of_limit: Option<Spread>,
}

/// Lines up the rows of each run by position (every run measures the same figures in the same
/// order) and reduces each line to a [`Figure`]. A run that measured fewer figures (a store that
/// failed) contributes what it has.
pub(super) fn figures<'a>(runs: &'a [Vec<Row>], limit_share: impl Fn(&Row) -> Option<f64>) -> Vec<Figure<'a>> {
    let count = runs.iter().map(Vec::len).max().unwrap_or(0);
    (0..count)
        .filter_map(|i| {
            let rows: Vec<&Row> = runs.iter().filter_map(|run| run.get(i)).collect();
            let rate = Spread::of(rows.iter().map(|r| r.run.rate()))?;
            let typical = rows
                .iter()
                .min_by(|a, b| (a.run.rate() - rate.median).abs().total_cmp(&(b.run.rate() - rate.median).abs()))?;
            Some(Figure {
                typical,
                rate,
                p50_ms: Spread::of(rows.iter().map(|r| r.run.p50_us as f64 / 1000.0))?,
                p99_ms: Spread::of(rows.iter().map(|r| r.run.p99_us as f64 / 1000.0))?,
                ratio: Spread::of(rows.iter().map(|r| 100.0 * r.run.rate() / r.baseline.max(1.0)))?,
                of_limit: Spread::of(rows.iter().filter_map(|r| limit_share(r))),
            })
        })
        .collect()
}

/// Each item once, in the order first seen. `Vec::dedup` drops only neighbours, and the runs
/// alternate stores (SQLite, PostgreSQL, SQLite, …), so it would keep one line a run.
pub(super) fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_of_alternating_runs_are_each_reported_once_in_the_order_they_ran() {
        assert_eq!(distinct(["SQLite", "PostgreSQL", "SQLite", "PostgreSQL", "SQLite"]), ["SQLite", "PostgreSQL"]);
        assert_eq!(distinct(Vec::<u8>::new()), Vec::<u8>::new());
    }

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value_and_the_range_its_ends() {
        let spread = Spread::of([31.1, 47.3, 45.6]).unwrap();
        assert_eq!(spread, Spread { median: 45.6, min: 31.1, max: 47.3 });
        assert_eq!(spread.show(1, "k"), "45.6k (31.1–47.3k)");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(Spread::of([4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of([7.0]).unwrap().show(0, " ms"), "7 ms");
        assert_eq!(Spread::of([59.2, 59.4]).unwrap().show(0, " MiB"), "59 MiB");
        assert_eq!(Spread::of(std::iter::empty()), None);
    }
}
