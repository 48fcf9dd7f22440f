//! Which rows `GET /api/v1/models` shows for its query string: OpenRouter's filters
//! (`supported_parameters`, `output_modalities`), its sort orders, and pages (`offset`,
//! `limit`).
//!
//! Router rows (`openrouter/auto` and its aliases) follow the models whatever the sort: they have
//! no price or date of their own. Sort orders that need measurements Turnout does not make
//! (throughput, latency, popularity, benchmark scores) are accepted and keep the configured
//! order, so a client written for OpenRouter gets a list rather than an error.

use std::cmp::{Ordering, Reverse};
use std::ops::RangeInclusive;

use crate::catalog::{Catalog, Model};

/// The most rows one page may have.
pub const MAX_LIMIT: usize = 1000;
/// Rows per page when `offset` is given without `limit`.
pub const DEFAULT_LIMIT: usize = 500;

/// OpenRouter's sort orders (`sort=`).
pub const SORTS: &[&str] = &[
    "pricing-low-to-high",
    "pricing-high-to-low",
    "context-high-to-low",
    "throughput-high-to-low",
    "latency-low-to-high",
    "most-popular",
    "top-weekly",
    "newest",
    "intelligence-high-to-low",
    "coding-high-to-low",
    "agentic-high-to-low",
    "design-arena-elo-high-to-low",
];

/// A parsed query string of `GET /api/v1/models`; the default (an empty query) lists every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingQuery {
    /// Every one of these must be among a row's supported parameters.
    pub supported_parameters: Vec<String>,
    /// Whether the requested output modalities include text (the default `text`, or `all`):
    /// every model Turnout serves writes text, and nothing else.
    pub wants_text: bool,
    /// The order of the model rows.
    pub sort: Sort,
    /// `(offset, limit)` when a page was asked for.
    pub page: Option<(usize, usize)>,
}

/// The order of the model rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// As configured.
    #[default]
    Configured,
    /// Cheapest first: the first endpoint's prompt price, then its completion price.
    PriceLowToHigh,
    /// Dearest first.
    PriceHighToLow,
    /// Largest context first.
    ContextHighToLow,
    /// Most recent `created` first.
    Newest,
}

/// A query parameter that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{parameter}`: {message}")]
pub struct ListingError {
    /// The parameter's name.
    pub parameter: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// One row of the list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row<'a> {
    /// A catalog model.
    Model(&'a Model),
    /// A router id (`openrouter/auto`).
    Router(&'a str),
}

/// The rows of one response.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<'a> {
    /// The rows on this page.
    pub rows: Vec<Row<'a>>,
    /// Rows that pass the filters, on every page.
    pub total: usize,
    /// `(offset, limit)` of the next page, when there is one.
    pub next: Option<(usize, usize)>,
}

impl Default for ListingQuery {
    fn default() -> Self {
        Self {
            supported_parameters: Vec::new(),
            wants_text: true,
            sort: Sort::Configured,
            page: None,
        }
    }
}

impl ListingQuery {
    /// Reads the query parameters (each as written, `None` when absent).
    pub fn parse(
        supported_parameters: Option<&str>,
        output_modalities: Option<&str>,
        sort: Option<&str>,
        offset: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, ListingError> {
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(str::trim)
                .filter(|it| !it.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let wants_text = match output_modalities {
            None => true,
            Some(text) => list(text).iter().any(|it| it == "text" || it == "all"),
        };
        let sort = match sort.map(str::trim) {
            None | Some("") => Sort::Configured,
            Some("pricing-low-to-high") => Sort::PriceLowToHigh,
            Some("pricing-high-to-low") => Sort::PriceHighToLow,
            Some("context-high-to-low") => Sort::ContextHighToLow,
            Some("newest") => Sort::Newest,
            Some(other) if SORTS.contains(&other) => Sort::Configured,
            Some(other) => {
                return Err(ListingError {
                    parameter: "sort",
                    message: format!("`{other}` is not one of {}", SORTS.join(", ")),
                });
            }
        };
        let number = |parameter: &'static str, text: &str, range: RangeInclusive<usize>| {
            text.trim()
                .parse::<usize>()
                .ok()
                .filter(|it| range.contains(it))
                .ok_or_else(|| ListingError {
                    parameter,
                    message: match *range.end() {
                        usize::MAX => format!("expected an integer of at least {}", range.start()),
                        most => format!("expected an integer from {} to {most}", range.start()),
                    },
                })
        };
        let page = match (offset, limit) {
            (None, None) => None,
            (offset, limit) => Some((
                offset.map_or(Ok(0), |it| number("offset", it, 0..=usize::MAX))?,
                limit.map_or(Ok(DEFAULT_LIMIT), |it| number("limit", it, 1..=MAX_LIMIT))?,
            )),
        };
        Ok(Self {
            supported_parameters: supported_parameters.map(list).unwrap_or_default(),
            wants_text,
            sort,
            page,
        })
    }

    /// The rows of `catalog` (then `routers`) this query shows.
    pub fn select<'a>(&self, catalog: &'a Catalog, routers: &'a [String]) -> Listing<'a> {
        let wanted = &self.supported_parameters;
        let mut models: Vec<&Model> = if self.wants_text {
            catalog
                .models()
                .iter()
                .filter(|model| supports(wanted, model_parameters(model)))
                .collect()
        } else {
            Vec::new()
        };
        match self.sort {
            Sort::Configured => {}
            Sort::PriceLowToHigh => models.sort_by(|a, b| by_price(a, b)),
            Sort::PriceHighToLow => models.sort_by(|a, b| by_price(b, a)),
            Sort::ContextHighToLow => models.sort_by_key(|it| Reverse(it.context_length())),
            Sort::Newest => models.sort_by_key(|it| Reverse(it.created)),
        }
        let routers_shown =
            self.wants_text && supports(wanted, catalog.models().iter().flat_map(model_parameters));
        let mut rows: Vec<Row<'a>> = models.into_iter().map(Row::Model).collect();
        if routers_shown {
            rows.extend(routers.iter().map(|it| Row::Router(it.as_str())));
        }
        let total = rows.len();
        let Some((offset, limit)) = self.page else {
            return Listing {
                rows,
                total,
                next: None,
            };
        };
        let rows: Vec<Row<'a>> = rows.into_iter().skip(offset).take(limit).collect();
        let end = offset.saturating_add(limit);
        Listing {
            rows,
            total,
            next: (end < total).then_some((end, limit)),
        }
    }
}

/// Every parameter any endpoint of `model` supports.
fn model_parameters(model: &Model) -> impl Iterator<Item = &String> {
    model
        .endpoints
        .iter()
        .flat_map(|it| &it.supported_parameters)
}

/// Whether every `wanted` parameter is among `parameters`.
fn supports<'a>(wanted: &[String], parameters: impl Iterator<Item = &'a String>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let parameters: Vec<&String> = parameters.collect();
    wanted.iter().all(|it| parameters.contains(&it))
}

/// Cheaper first: the first endpoint's prompt price, then its completion price.
fn by_price(a: &Model, b: &Model) -> Ordering {
    let price = |model: &Model| {
        model
            .endpoints
            .first()
            .map_or((0.0, 0.0), |it| (it.pricing.prompt, it.pricing.completion))
    };
    let (a, b) = (price(a), price(b));
    a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests;
