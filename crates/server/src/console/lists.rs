//! Search, sort by column and paging for the console's lists (API clients, administrators), as
//! plain links and a GET form, so they work without script and every view has its own address.
//! The lists are one owner's clients (capped) and one customer's administrators, read whole and
//! cut here; the system log, which grows without such a cap, pages in the store instead.

use std::cmp::Ordering;

use serde::Deserialize;

/// What the address asks for: `?q=&sort=&dir=&page=`.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    /// Text, so a mangled number shows the first page instead of a bare 400.
    page: Option<String>,
}

/// A column the list can be sorted by: its key in the address and its heading.
pub type Sortable = (&'static str, &'static str);

pub struct Listing {
    path: String,
    pub q: String,
    sort: &'static str,
    desc: bool,
    page: usize,
    size: usize,
}

/// A heading, as a link that sorts by it (again: the other way round).
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub href: String,
    /// For `aria-sort`: `ascending`, `descending` or `none`.
    pub aria_sort: &'static str,
    pub arrow: &'static str,
}

pub struct Pager {
    pub from: usize,
    pub to: usize,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Listing {
    /// The view `query` asks for on the list at `path`; unknown columns fall back to `default`.
    pub fn of(
        path: String,
        query: &ListQuery,
        columns: &[Sortable],
        default: (&'static str, bool),
        size: usize,
    ) -> Self {
        let sort = query
            .sort
            .as_deref()
            .and_then(|s| columns.iter().find(|(key, _)| *key == s))
            .map_or(default.0, |(key, _)| *key);
        let desc = match query.dir.as_deref() {
            Some("desc") => true,
            Some("asc") => false,
            _ => sort == default.0 && default.1,
        };
        let q = query.q.as_deref().unwrap_or_default().trim().chars().take(200).collect();
        Self { path, q, sort, desc, page: query.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1).max(1), size }
    }

    pub fn href(&self, sort: &str, desc: bool, page: usize) -> String {
        let mut pairs = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        pairs.push(("sort", sort.to_owned()));
        pairs.push(("dir", if desc { "desc" } else { "asc" }.to_owned()));
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        format!("{}?{}", self.path, serde_urlencoded::to_string(pairs).unwrap_or_default())
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn descending(&self) -> bool {
        self.desc
    }

    pub fn columns(&self, columns: &[Sortable]) -> Vec<Column> {
        columns
            .iter()
            .map(|&(key, label)| {
                let current = key == self.sort;
                Column {
                    key,
                    label,
                    href: self.href(key, current && !self.desc, 1),
                    aria_sort: match (current, self.desc) {
                        (false, _) => "none",
                        (true, false) => "ascending",
                        (true, true) => "descending",
                    },
                    arrow: match (current, self.desc) {
                        (false, _) => "",
                        (true, false) => " ▲",
                        (true, true) => " ▼",
                    },
                }
            })
            .collect()
    }

    /// Whether `fields` hold the search text (ignoring case); everything matches no search.
    pub fn matches<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> bool {
        let wanted = self.q.to_lowercase();
        wanted.is_empty() || fields.into_iter().any(|f| f.to_lowercase().contains(&wanted))
    }

    /// Sorts `items` by the chosen column (`by` compares two items under a column key), then cuts
    /// out the page asked for (the last one, if it asked beyond).
    pub fn page_of<T>(&self, mut items: Vec<T>, by: impl Fn(&str, &T, &T) -> Ordering) -> (Vec<T>, Pager) {
        items.sort_by(|a, b| {
            let order = by(self.sort, a, b);
            if self.desc {
                order.reverse()
            } else {
                order
            }
        });
        let total = items.len();
        let pages = total.div_ceil(self.size).max(1);
        let page = self.page.min(pages);
        let start = (page - 1) * self.size;
        let shown: Vec<T> = items.into_iter().skip(start).take(self.size).collect();
        let pager = Pager {
            from: if total == 0 { 0 } else { start + 1 },
            to: start + shown.len(),
            total,
            page,
            pages,
            previous: (page > 1).then(|| self.href(self.sort, self.desc, page - 1)),
            next: (page < pages).then(|| self.href(self.sort, self.desc, page + 1)),
        };
        (shown, pager)
    }
}

/// Text compared the way a person reads a list: ignoring case.
pub fn by_text(a: &str, b: &str) -> Ordering {
    a.to_lowercase().cmp(&b.to_lowercase()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Sortable] = &[("name", "Name"), ("size", "Size")];

    fn listing(query: &str) -> Listing {
        let query: ListQuery = serde_urlencoded::from_str(query).unwrap();
        Listing::of("/l".to_owned(), &query, COLUMNS, ("name", false), 2)
    }

    fn sorted(query: &str) -> (Vec<&'static str>, Pager) {
        let items = vec!["b", "A", "c", "d", "e"];
        let listing = listing(query);
        let items = items.into_iter().filter(|i| listing.matches([*i])).collect();
        listing.page_of(items, |_, a, b| by_text(a, b))
    }

    #[test]
    fn lists_search_sort_and_page() {
        let (items, pager) = sorted("");
        assert_eq!(items, ["A", "b"]);
        assert_eq!((pager.from, pager.to, pager.total, pager.pages), (1, 2, 5, 3));
        assert_eq!(pager.next.as_deref(), Some("/l?sort=name&dir=asc&page=2"));
        assert_eq!(sorted("dir=desc&page=3").0, ["A"]);
        assert_eq!(sorted("page=99").0, ["e"], "past the end: the last page");
        assert_eq!(sorted("q=a").0, ["A"]);
        assert_eq!(sorted("sort=nosuch").0, ["A", "b"]);
        let columns = listing("sort=name&dir=asc").columns(COLUMNS);
        assert_eq!((columns[0].aria_sort, columns[0].href.as_str()), ("ascending", "/l?sort=name&dir=desc"));
        assert_eq!(columns[1].aria_sort, "none");
    }
}
