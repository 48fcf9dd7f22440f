//! The auto bench's decision (analysis plus selection of a 4,000-token conversation over 300
//! candidates, demo profile) in a plain loop, for counting its instructions with `perf stat`,
//! which a shared machine's load does not disturb the way it does wall time:
//!
//! ```text
//! cargo build --release -p benches --example decision_work
//! DECISIONS=3000 perf stat -e task-clock target/release/examples/decision_work
//! DECISIONS=0 perf stat -e task-clock target/release/examples/decision_work
//! ```
//!
//! The difference over 3,000 is one decision's CPU time (or instructions, with
//! `-e instructions:u` where the machine has the counter).

use std::collections::BTreeMap;
use std::hint::black_box;

use benches::{catalog, model_id, request_body_with_prompt_tokens};
use router_core::analysis::Conversation;
use router_core::auto::profile::{ModelData, Profile, ProfileData};
use router_core::auto::select::{self, SelectParams};
use router_core::patterns::ModelFilter;
use router_core::request::ChatRequest;

fn main() -> Result<(), String> {
    let n: usize = std::env::var("DECISIONS")
        .ok()
        .and_then(|it| it.parse().ok())
        .unwrap_or(1);
    let catalog = catalog(300);
    let body = request_body_with_prompt_tokens(4_000, false);
    let request = ChatRequest::parse(&body).map_err(|err| err.to_string())?;
    let features = request.features();
    let demo = Profile::demo()
        .map_err(|err| err.to_string())?
        .data()
        .clone();
    let originals: Vec<ModelData> = demo.models.values().cloned().collect();
    let models: BTreeMap<String, ModelData> = (0..300)
        .map(|idx| (model_id(idx), originals[idx % originals.len()].clone()))
        .collect();
    let profile =
        Profile::from_data(ProfileData { models, ..demo }).map_err(|err| err.to_string())?;
    let filter = ModelFilter::permit_all();
    let params = SelectParams {
        filter: &filter,
        tradeoff: 7,
        top_k: 3,
    };
    // Warm the embedding table and the task model either way.
    let warm = profile.analyze(&Conversation::from_request(&request), &features);
    select::select(&catalog, &profile, &warm, &params).map_err(|err| format!("{err:?}"))?;
    for _ in 0..n {
        let conversation = Conversation::from_request(black_box(&request));
        let analysis = profile.analyze(&conversation, &features);
        let picked = select::select(&catalog, &profile, &analysis, &params).map(|it| it.picks[0]);
        black_box(picked.ok());
    }
    Ok(())
}
