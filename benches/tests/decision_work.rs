//! The auto bench's decision (analysis plus selection of a 4,000-token conversation over 300
//! candidates, demo profile) in a plain loop, for counting its instructions with `perf stat`,
//! which a shared machine's load does not disturb the way it does wall time:
//!
//! ```text
//! cargo test -p benches --test decision_work --no-run
//! DECISIONS=2000 perf stat -e instructions:u target/debug/deps/decision_work-* --ignored
//! DECISIONS=0 perf stat -e instructions:u target/debug/deps/decision_work-* --ignored
//! ```
//!
//! The difference over 2,000 is one decision's instructions (router-core is built with
//! `opt-level = 3` in every profile).

use std::collections::BTreeMap;
use std::hint::black_box;

use benches::{catalog, model_id, request_body_with_prompt_tokens};
use router_core::analysis::Conversation;
use router_core::auto::profile::{ModelData, Profile, ProfileData};
use router_core::auto::select::{self, SelectParams};
use router_core::patterns::ModelFilter;
use router_core::request::ChatRequest;

#[test]
#[ignore = "a measurement loop, run by hand under perf stat"]
fn decision_loop() {
    let n: usize = std::env::var("DECISIONS")
        .ok()
        .and_then(|it| it.parse().ok())
        .unwrap_or(1);
    let catalog = catalog(300);
    let body = request_body_with_prompt_tokens(4_000, false);
    let request = ChatRequest::parse(&body).unwrap();
    let features = request.features();
    let demo = Profile::demo().unwrap().data().clone();
    let originals: Vec<ModelData> = demo.models.values().cloned().collect();
    let models: BTreeMap<String, ModelData> = (0..300)
        .map(|idx| (model_id(idx), originals[idx % originals.len()].clone()))
        .collect();
    let profile = Profile::from_data(ProfileData { models, ..demo }).unwrap();
    let filter = ModelFilter::permit_all();
    let params = SelectParams {
        filter: &filter,
        tradeoff: 7,
        top_k: 3,
    };
    // Warm the embedding table and the task model either way.
    let warm = profile.analyze(&Conversation::from_request(&request), &features);
    assert!(select::select(&catalog, &profile, &warm, &params).is_ok());
    for _ in 0..n {
        let conversation = Conversation::from_request(black_box(&request));
        let analysis = profile.analyze(&conversation, &features);
        let picked = select::select(&catalog, &profile, &analysis, &params).map(|it| it.picks[0]);
        black_box(picked.ok());
    }
}
