//! Paging of the Describe actions: `MaxResults` + opaque `NextToken`, and the deprecated
//! `PageNumber` / `PageSize`.
//!
//! Token mode is used unless only `PageNumber`/`PageSize` are given; it reports `TotalCount`
//! 0 (documented as meaningless there) and an empty `NextToken` on the last page. A token is
//! the hex key of the last item returned, so the next page resumes after it even when new
//! items appear; handlers build the ordered `(key, item)` iterators.

use crate::sandbox::error::SandboxError;

/// How a Describe call pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// `MaxResults`/`NextToken` (or nothing) given: `TotalCount` is 0 and tokens page.
    pub(crate) token_mode: bool,
    /// Items per page.
    pub(crate) size: usize,
    /// Token mode: continue after this key.
    pub(crate) after: Option<u128>,
    /// Page mode: 1-based page.
    pub(crate) page: usize,
}

/// The page-size rules of one action.
pub(crate) struct PageLimits {
    /// Largest `MaxResults` / `PageSize`.
    pub(crate) max: u32,
    /// Values below this are raised to it (DescribeInstances raises < 10 to 10).
    pub(crate) min: u32,
}

impl Paging {
    /// Reads the paging parameters of a request.
    pub(crate) fn new(
        max_results: Option<u32>,
        next_token: Option<&str>,
        page_number: Option<u32>,
        page_size: Option<u32>,
        limits: &PageLimits,
    ) -> Result<Self, SandboxError> {
        let next_token = next_token.filter(|t| !t.is_empty());
        let token_mode = max_results.is_some()
            || next_token.is_some()
            || (page_number, page_size) == (None, None);
        if token_mode {
            let size = max_results.unwrap_or(10);
            if size == 0 || size > limits.max {
                return Err(SandboxError::new(
                    400,
                    "InvalidParameter.MaxResults",
                    format!(
                        "The specified parameter MaxResults is not valid: it must be between 1 and {}.",
                        limits.max
                    ),
                ));
            }
            let after = next_token
                .map(|t| {
                    u128::from_str_radix(t, 16).map_err(|_| {
                        SandboxError::new(
                            400,
                            "InvalidParameter.NextToken",
                            "The specified parameter NextToken is not valid.",
                        )
                    })
                })
                .transpose()?;
            Ok(Self {
                token_mode,
                size: usize::try_from(size.max(limits.min)).expect("u32 fits usize"),
                after,
                page: 1,
            })
        } else {
            let size = page_size.unwrap_or(10);
            if size == 0 || size > limits.max {
                return Err(SandboxError::new(
                    403,
                    "InvalidParam.PageSize",
                    "The specified parameter PageSize is not valid.",
                ));
            }
            let page = page_number.unwrap_or(1);
            if page == 0 {
                return Err(SandboxError::new(
                    403,
                    "InvalidParam.PageNumber",
                    "The specified parameter PageNumber is not valid.",
                ));
            }
            Ok(Self {
                token_mode,
                size: usize::try_from(size).expect("u32 fits usize"),
                after: None,
                page: usize::try_from(page).expect("u32 fits usize"),
            })
        }
    }

    /// Lowers the page size to `cap` (a fleet's `limits.max_page_size`), so clients must follow
    /// `NextToken` even when they ask for large pages.
    pub(crate) fn capped(mut self, cap: Option<usize>) -> Self {
        if let Some(cap) = cap {
            self.size = self.size.min(cap.max(1));
        }
        self
    }

    /// Takes one page from `items`, which must be in ascending key order and start after
    /// `self.after`. Returns the page, the next token and the total count to show.
    pub(crate) fn take<T>(&self, items: impl Iterator<Item = (u128, T)>) -> PageOf<T> {
        if self.token_mode {
            let mut page: Vec<(u128, T)> = items.take(self.size + 1).collect();
            let next_token = if page.len() > self.size {
                page.truncate(self.size);
                page.last()
                    .map(|(k, _)| format!("{k:x}"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            PageOf {
                items: page.into_iter().map(|(_, t)| t).collect(),
                next_token,
                total: 0,
                page_number: 1,
                page_size: self.size,
            }
        } else {
            let mut total = 0usize;
            let skip = (self.page - 1) * self.size;
            let mut out = Vec::new();
            for (i, (_, item)) in items.enumerate() {
                total += 1;
                if i >= skip && out.len() < self.size {
                    out.push(item);
                }
            }
            PageOf {
                items: out,
                next_token: String::new(),
                total,
                page_number: self.page,
                page_size: self.size,
            }
        }
    }
}

/// One page of a listing.
pub(crate) struct PageOf<T> {
    /// The items.
    pub(crate) items: Vec<T>,
    /// `NextToken`: empty on the last page and in page mode.
    pub(crate) next_token: String,
    /// Items in all pages (page mode only).
    pub(crate) total: usize,
    /// `PageNumber`.
    pub(crate) page_number: usize,
    /// `PageSize`.
    pub(crate) page_size: usize,
}

impl<T> PageOf<T> {
    /// `TotalCount`, `PageNumber`, `PageSize` as the responses carry them.
    pub(crate) fn counts(&self) -> (i64, i64, i64) {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        (n(self.total), n(self.page_number), n(self.page_size))
    }
}

/// The key of a task in newest-first listing order.
pub(crate) fn newest_first(seq: u64) -> u128 {
    u128::from(u64::MAX - seq) << 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_modes() {
        let limits = PageLimits { max: 50, min: 1 };
        let token = Paging::new(None, None, None, None, &limits).unwrap();
        assert!(token.token_mode);
        assert_eq!(token.size, 10);
        let page = Paging::new(None, None, Some(2), Some(5), &limits).unwrap();
        assert!(!page.token_mode);
        let errors = [
            Paging::new(Some(51), None, None, None, &limits)
                .unwrap_err()
                .code,
            Paging::new(None, Some("zz"), None, None, &limits)
                .unwrap_err()
                .code,
            Paging::new(None, None, Some(1), Some(51), &limits)
                .unwrap_err()
                .code,
            Paging::new(None, None, Some(0), Some(5), &limits)
                .unwrap_err()
                .code,
        ];
        assert_eq!(
            errors,
            [
                "InvalidParameter.MaxResults",
                "InvalidParameter.NextToken",
                "InvalidParam.PageSize",
                "InvalidParam.PageNumber"
            ]
        );
        let items = (0u128..23).map(|k| (k, k));
        let first = token.take(items.clone());
        assert_eq!(first.items.len(), 10);
        assert_eq!(first.next_token, "9");
        assert_eq!(first.total, 0);
        let pages = page.take(items);
        assert_eq!(pages.items, [5, 6, 7, 8, 9]);
        assert_eq!(pages.total, 23);
    }
}
