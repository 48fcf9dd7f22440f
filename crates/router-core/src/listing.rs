//! Which rows `GET /api/v1/models` shows for its query string: OpenRouter's filters
//! (`supported_parameters`, `output_modalities`), its sort orders, and pages (`offset`,
//! `limit`).
//!
//! Router rows (`openrouter/auto` and its aliases) follow the models whatever the sort: they have
//! no price or date of their own. `throughput-high-to-low` and `latency-low-to-high` use each
//! model's fastest endpoint, measured (the caller's [`Speed`], from live endpoint health) or
//! configured; models with neither follow. Sort orders that need data Turnout does not have
//! (popularity, benchmark scores) are accepted and keep the configured order, so a client
//! written for OpenRouter gets a list rather than an error.

use std::cmp::{Ordering, Reverse};
use std::ops::RangeInclusive;

use crate::catalog::{Catalog, Model, ModelIdx};

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
    /// Most output tokens per second first.
    ThroughputHighToLow,
    /// Shortest time to first token first.
    LatencyLowToHigh,
}

/// A model's speed for the speed sorts: its fastest endpoint's median throughput (tokens per
/// second) and latency (seconds), `None` when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Speed {
    /// Output tokens per second.
    pub throughput: Option<f64>,
    /// Seconds to the first token.
    pub latency: Option<f64>,
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
            Some("throughput-high-to-low") => Sort::ThroughputHighToLow,
            Some("latency-low-to-high") => Sort::LatencyLowToHigh,
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

    /// The rows of `catalog` (then `routers`) this query shows, speeds from the configuration.
    pub fn select<'a>(&self, catalog: &'a Catalog, routers: &'a [String]) -> Listing<'a> {
        self.select_measured(catalog, routers, |_| Speed::default())
    }

    /// [`ListingQuery::select`], with `measured` speeds of each model (its fastest endpoint's
    /// live medians) before the configured ones.
    pub fn select_measured<'a>(
        &self,
        catalog: &'a Catalog,
        routers: &'a [String],
        measured: impl Fn(ModelIdx) -> Speed,
    ) -> Listing<'a> {
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
        let speed = |model: &Model| {
            let measured = catalog.find(&model.id).map(&measured).unwrap_or_default();
            let configured = Speed {
                throughput: model
                    .endpoints
                    .iter()
                    .filter_map(|it| it.traits.throughput)
                    .max_by(f64::total_cmp),
                latency: model
                    .endpoints
                    .iter()
                    .filter_map(|it| it.traits.latency)
                    .min_by(f64::total_cmp),
            };
            Speed {
                throughput: measured.throughput.or(configured.throughput),
                latency: measured.latency.or(configured.latency),
            }
        };
        match self.sort {
            Sort::ThroughputHighToLow => models.sort_by_cached_key(|it| {
                let throughput = speed(it).throughput;
                (
                    throughput.is_none(),
                    Reverse(OrderedKey(throughput.unwrap_or(0.0))),
                )
            }),
            Sort::LatencyLowToHigh => models.sort_by_cached_key(|it| {
                let latency = speed(it).latency;
                (latency.is_none(), OrderedKey(latency.unwrap_or(0.0)))
            }),
            _ => {}
        }
        match self.sort {
            Sort::Configured => {}
            Sort::PriceLowToHigh => models.sort_by(|a, b| by_price(a, b)),
            Sort::PriceHighToLow => models.sort_by(|a, b| by_price(b, a)),
            Sort::ContextHighToLow => models.sort_by_key(|it| Reverse(it.context_length())),
            Sort::Newest => models.sort_by_key(|it| Reverse(it.created)),
            Sort::ThroughputHighToLow | Sort::LatencyLowToHigh => {}
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

/// An `f64` ordered by [`f64::total_cmp`], for sort keys.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedKey(f64);

impl Eq for OrderedKey {}

impl PartialOrd for OrderedKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
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
