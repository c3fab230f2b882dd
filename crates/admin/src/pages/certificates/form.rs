//! The Certificates list's query, read without I/O: filters, search and paging (pure,
//! unit-tested).

use super::*;

/// The filters as typed, and the store filter they make.
pub(super) struct Filters {
    pub(super) store: String,
    pub(super) eligible: bool,
    pub(super) in_use: bool,
    pub(super) expiring: String,
    pub(super) expired: bool,
    /// The search text (friendly name, subject or thumbprint), trimmed.
    pub(super) q: String,
    /// The page asked for, from 1.
    pub(super) page: usize,
    pub(super) problems: Vec<String>,
    pub(super) filter: CertFilter,
}

impl Filters {
    pub(super) fn parse(q: &FormData) -> Filters {
        let mut problems = Vec::new();
        let store_text = q.get("store").trim().to_string();
        let store = if store_text.is_empty() {
            None
        } else {
            match StoreName::from_str(&store_text) {
                Ok(s) => Some(s),
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            }
        };
        let expiring_text = q.get("expiring").trim().to_string();
        let expiring_within = if expiring_text.is_empty() {
            None
        } else {
            match expiring_text.parse::<u32>() {
                Ok(d) => Some(i64::from(d) * 86_400),
                Err(_) => {
                    problems.push(format!(
                        "'{expiring_text}' is not a number of days; the expiry filter was ignored"
                    ));
                    None
                }
            }
        };
        let filter = CertFilter {
            store,
            eligible: q.checked("eligible"),
            expiring_within,
            expired: q.checked("expired"),
            in_use: q.checked("in_use"),
        };
        Filters {
            store: store.map(|s| s.as_str().to_string()).unwrap_or_default(),
            eligible: filter.eligible,
            in_use: filter.in_use,
            expiring: expiring_text,
            expired: filter.expired,
            q: q.get("q").trim().chars().take(200).collect(),
            page: q.get("page").trim().parse().unwrap_or(1).max(1),
            problems,
            filter,
        }
    }

    /// Whether `c` matches the search text: a case-insensitive part of its friendly
    /// name or subject, or of its SHA-1 or SHA-256 thumbprint (colons and spaces ignored).
    pub(super) fn matches(&self, c: &CertRecord) -> bool {
        if self.q.is_empty() {
            return true;
        }
        let needle = self.q.to_lowercase();
        let in_text = |t: &str| t.to_lowercase().contains(&needle);
        let hex: String = self
            .q
            .chars()
            .filter(|ch| !matches!(ch, ':' | ' '))
            .collect::<String>()
            .to_ascii_uppercase();
        c.friendly_name.as_deref().is_some_and(in_text)
            || in_text(&c.facts.subject)
            || (!hex.is_empty()
                && (c.facts.thumbprint_sha1.contains(&hex)
                    || c.facts.thumbprint_sha256.contains(&hex)))
    }

    /// The list's query string for page `page`, keeping the filters and the search.
    pub(super) fn query(&self, page: usize) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            pairs.append_pair("q", &self.q);
        }
        if !self.store.is_empty() {
            pairs.append_pair("store", &self.store);
        }
        for (name, on) in [
            ("eligible", self.eligible),
            ("in_use", self.in_use),
            ("expired", self.expired),
        ] {
            if on {
                pairs.append_pair(name, "on");
            }
        }
        if !self.expiring.is_empty() {
            pairs.append_pair("expiring", &self.expiring);
        }
        pairs.append_pair("page", &page.to_string());
        pairs.finish()
    }
}

/// Certificates listed per page.
pub(super) const PAGE_SIZE: usize = 25;

/// One page of the list: its rows, and where it lies in the whole.
pub(super) struct Paged<'a> {
    pub(super) rows: &'a [Row],
    /// The page shown, from 1 (the last one when a later page was asked for).
    pub(super) page: usize,
    /// How many pages.
    pub(super) pages: usize,
    /// How many certificates match in all.
    pub(super) total: usize,
}

impl<'a> Paged<'a> {
    pub(super) fn of(rows: &'a [Row], asked: usize) -> Paged<'a> {
        let total = rows.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = asked.clamp(1, pages);
        let start = (page - 1) * PAGE_SIZE;
        let end = (start + PAGE_SIZE).min(total);
        Paged {
            rows: rows.get(start..end).unwrap_or_default(),
            page,
            pages,
            total,
        }
    }

    /// "Showing X–Y of N".
    pub(super) fn showing(&self) -> String {
        let first = (self.page - 1) * PAGE_SIZE + 1;
        format!(
            "Showing {}–{} of {}",
            first.min(self.total),
            first + self.rows.len() - 1,
            self.total
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_from_the_query() {
        let f = Filters::parse(&FormData::from_pairs(vec![
            ("store".into(), "end-entity".into()),
            ("eligible".into(), "on".into()),
            ("expiring".into(), "30".into()),
        ]));
        assert_eq!(f.filter.store, Some(StoreName::EndEntity));
        assert!(f.filter.eligible && !f.filter.in_use && !f.filter.expired);
        assert_eq!(f.filter.expiring_within, Some(30 * 86_400));
        assert!(f.problems.is_empty());
        let f = Filters::parse(&FormData::from_pairs(vec![
            ("store".into(), "attic".into()),
            ("expiring".into(), "soon".into()),
        ]));
        assert_eq!(f.filter.store, None);
        assert_eq!(f.filter.expiring_within, None);
        assert_eq!(f.problems.len(), 2);
    }
}
