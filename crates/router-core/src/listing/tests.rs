//! Tests of the model listing's filters, sort orders and pages.

use super::*;
use crate::catalog::{Capabilities, Endpoint, Model, Pricing};

fn model(id: &str, created: u64, prompt: f64, context_length: u32, parameters: &[&str]) -> Model {
    Model {
        id: id.into(),
        name: id.to_owned(),
        created,
        description: String::new(),
        endpoints: vec![Endpoint {
            provider: "p".to_owned(),
            upstream_model: "m".to_owned(),
            pricing: Pricing {
                prompt,
                completion: 2.0 * prompt,
                ..Pricing::default()
            },
            context_length,
            max_output: None,
            supported_parameters: parameters.iter().map(|it| (*it).to_owned()).collect(),
            capabilities: Capabilities::default(),
            traits: Default::default(),
        }],
    }
}

fn catalog() -> Catalog {
    Catalog::new(vec![
        model("a/mid", 20, 2e-6, 128_000, &["tools", "temperature"]),
        model("b/cheap", 30, 1e-7, 32_000, &["temperature"]),
        model("c/dear", 10, 1e-5, 1_000_000, &["tools", "seed"]),
    ])
    .unwrap()
}

fn ids(listing: &Listing<'_>) -> Vec<String> {
    listing
        .rows
        .iter()
        .map(|row| match row {
            Row::Model(model) => model.id.to_string(),
            Row::Router(id) => (*id).to_owned(),
        })
        .collect()
}

fn query(
    parameters: Option<&str>,
    modalities: Option<&str>,
    sort: Option<&str>,
    offset: Option<&str>,
    limit: Option<&str>,
) -> ListingQuery {
    ListingQuery::parse(parameters, modalities, sort, offset, limit).unwrap()
}

#[test]
fn no_query_is_the_configured_order_then_the_routers() {
    let catalog = catalog();
    let routers = vec!["openrouter/auto".to_owned()];
    let listing = ListingQuery::default().select(&catalog, &routers);
    assert_eq!(
        ids(&listing),
        ["a/mid", "b/cheap", "c/dear", "openrouter/auto"]
    );
    assert_eq!(listing.total, 4);
    assert_eq!(listing.next, None);
    assert_eq!(
        query(None, None, None, None, None),
        ListingQuery {
            wants_text: true,
            ..ListingQuery::default()
        }
    );
}

#[test]
fn supported_parameters_keep_models_that_support_all_of_them() {
    let catalog = catalog();
    let routers = vec!["openrouter/auto".to_owned()];
    let listing = query(Some("tools"), None, None, None, None).select(&catalog, &routers);
    assert_eq!(ids(&listing), ["a/mid", "c/dear", "openrouter/auto"]);
    let listing =
        query(Some("tools, temperature"), None, None, None, None).select(&catalog, &routers);
    assert_eq!(ids(&listing), ["a/mid", "openrouter/auto"]);
    let listing = query(Some("logit_bias"), None, None, None, None).select(&catalog, &routers);
    assert!(listing.rows.is_empty());
    assert_eq!(listing.total, 0);
}

#[test]
fn output_modalities_other_than_text_list_nothing() {
    let catalog = catalog();
    let routers = vec!["openrouter/auto".to_owned()];
    for (modalities, shown) in [
        ("text", 4),
        ("all", 4),
        ("image,text", 4),
        ("image", 0),
        ("embeddings", 0),
    ] {
        let listing = query(None, Some(modalities), None, None, None).select(&catalog, &routers);
        assert_eq!(listing.total, shown, "{modalities}");
    }
}

#[test]
fn sorts_order_the_models_and_leave_the_routers_last() {
    let catalog = catalog();
    let routers = vec!["openrouter/auto".to_owned()];
    for (sort, expected) in [
        ("pricing-low-to-high", ["b/cheap", "a/mid", "c/dear"]),
        ("pricing-high-to-low", ["c/dear", "a/mid", "b/cheap"]),
        ("context-high-to-low", ["c/dear", "a/mid", "b/cheap"]),
        ("newest", ["b/cheap", "a/mid", "c/dear"]),
        ("most-popular", ["a/mid", "b/cheap", "c/dear"]),
    ] {
        let listing = query(None, None, Some(sort), None, None).select(&catalog, &routers);
        let mut want: Vec<&str> = expected.to_vec();
        want.push("openrouter/auto");
        assert_eq!(ids(&listing), want, "{sort}");
    }
    let err = ListingQuery::parse(None, None, Some("cheapest"), None, None).unwrap_err();
    assert_eq!(err.parameter, "sort");
    assert!(err.message.contains("pricing-low-to-high"), "{err}");
}

#[test]
fn pages_count_every_row_and_point_at_the_next_page() {
    let catalog = catalog();
    let routers = vec!["openrouter/auto".to_owned()];
    let first = query(None, None, None, None, Some("2")).select(&catalog, &routers);
    assert_eq!(ids(&first), ["a/mid", "b/cheap"]);
    assert_eq!((first.total, first.next), (4, Some((2, 2))));
    let last = query(None, None, None, Some("2"), Some("2")).select(&catalog, &routers);
    assert_eq!(ids(&last), ["c/dear", "openrouter/auto"]);
    assert_eq!(last.next, None);
    let past = query(None, None, None, Some("10"), None).select(&catalog, &routers);
    assert!(past.rows.is_empty());
    assert_eq!((past.total, past.next), (4, None));
    let offset_only = query(None, None, None, Some("1"), None);
    assert_eq!(offset_only.page, Some((1, DEFAULT_LIMIT)));
}

#[test]
fn bad_pages_name_the_parameter() {
    for (offset, limit, parameter) in [
        (None, Some("0"), "limit"),
        (None, Some("1001"), "limit"),
        (None, Some("ten"), "limit"),
        (Some("-1"), None, "offset"),
        (Some("1.5"), Some("5"), "offset"),
    ] {
        let err = ListingQuery::parse(None, None, None, offset, limit).unwrap_err();
        assert_eq!(err.parameter, parameter, "{offset:?} {limit:?}");
        let expected = match parameter {
            "limit" => "expected an integer from 1 to 1000",
            _ => "expected an integer of at least 0",
        };
        assert_eq!(err.message, expected);
    }
}

#[test]
fn speed_sorts_use_measurements_before_configured_values() {
    let mut fast = model("a/fast", 0, 1e-6, 8_000, &[]);
    fast.endpoints[0].traits.throughput = Some(90.0);
    fast.endpoints[0].traits.latency = Some(0.9);
    let mut slow = model("b/slow", 0, 1e-6, 8_000, &[]);
    slow.endpoints[0].traits.throughput = Some(10.0);
    slow.endpoints[0].traits.latency = Some(0.1);
    let unknown = model("c/unknown", 0, 1e-6, 8_000, &[]);
    let catalog = Catalog::new(vec![unknown, slow, fast]).unwrap();
    let query = |sort| ListingQuery::parse(None, None, Some(sort), None, None).unwrap();
    let by_throughput = query("throughput-high-to-low");
    assert_eq!(
        ids(&by_throughput.select(&catalog, &[])),
        ["a/fast", "b/slow", "c/unknown"]
    );
    assert_eq!(
        ids(&query("latency-low-to-high").select(&catalog, &[])),
        ["b/slow", "a/fast", "c/unknown"]
    );
    // A measurement wins over the configuration.
    let measured = |model: ModelIdx| match model.0 {
        1 => Speed {
            throughput: Some(500.0),
            latency: None,
        },
        _ => Speed::default(),
    };
    assert_eq!(
        ids(&by_throughput.select_measured(&catalog, &[], measured)),
        ["b/slow", "a/fast", "c/unknown"]
    );
}
