//! Prompt analysis: what a conversation asks for, how hard it is, in which language, and what a
//! model needs to be able to do to answer it.
//!
//! [`analyze`] is pure and deterministic and reads only bounded windows of the conversation (the
//! head and tail of the last user turn, the start of the system prompt, the tails of earlier
//! turns), so it takes microseconds whatever the conversation's length. The task type comes from
//! the trained classifier in [`task_model`] (weights shipped with the crate) over the static
//! embedding of [`embed`], the hashed n-grams of [`features`] and the keyword rules of [`task`];
//! difficulty and language are rules ([`difficulty`], [`language`]). The profile's own learned
//! part ([`classifier`]: clusters and nearest labelled examples) feeds quality estimates.

pub mod classifier;
pub mod difficulty;
pub mod embed;
pub mod features;
pub mod language;
pub mod task;
pub mod task_model;
pub mod tokens;

use std::borrow::Cow;

use serde::Serialize;

use crate::request::{ChatRequest, RequestFeatures, Role};
use classifier::{Classifier, Neighbour};
use features::{SparseVector, Window};
use language::{Language, LanguageCounts};
use task::{RuleScores, TaskScores, TaskType};

/// A prompt this long (in estimated tokens) needs a long-context model.
pub const LONG_CONTEXT_TOKENS: u32 = 32_000;

/// One turn of a conversation, as text.
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    /// Who wrote it.
    pub role: Role,
    /// Its text (text parts joined).
    pub text: Cow<'a, str>,
}

/// The turns analysis reads, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Conversation<'a> {
    /// The turns.
    pub turns: Vec<Turn<'a>>,
}

impl<'a> Conversation<'a> {
    /// The turns of a request that analysis reads: the first two system or developer messages,
    /// the last three user turns and the last assistant turn (tool results are skipped). Text is
    /// decoded only for those, so a long conversation costs no more than a short one.
    pub fn from_request<'r: 'a>(request: &'a ChatRequest<'r>) -> Self {
        let messages = &request.messages;
        let last_assistant = messages.iter().rposition(|it| it.role == Role::Assistant);
        let mut users_left = 3usize;
        let mut keep = vec![false; messages.len()];
        for (idx, message) in messages.iter().enumerate().rev() {
            if message.role == Role::User && users_left > 0 {
                users_left -= 1;
                keep[idx] = true;
            }
        }
        let mut systems_left = 2usize;
        for (idx, message) in messages.iter().enumerate() {
            let is_system = matches!(message.role, Role::System | Role::Developer);
            if is_system && systems_left > 0 {
                systems_left -= 1;
                keep[idx] = true;
            }
            if Some(idx) == last_assistant {
                keep[idx] = true;
            }
        }
        let turns = messages
            .iter()
            .zip(keep)
            .filter(|(_, keep)| *keep)
            .map(|(message, _)| Turn {
                role: message.role,
                text: message.text(),
            })
            .collect();
        Self { turns }
    }

    /// A conversation of one user turn.
    pub fn user(text: &'a str) -> Self {
        Self {
            turns: vec![Turn {
                role: Role::User,
                text: Cow::Borrowed(text),
            }],
        }
    }
}

/// What a model must be able to do to take the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NeededCapabilities {
    /// Function calling.
    pub tools: bool,
    /// Image inputs.
    pub images: bool,
    /// `response_format` with `json_schema`.
    pub structured_output: bool,
    /// A prompt of at least [`LONG_CONTEXT_TOKENS`].
    pub long_context: bool,
    /// Estimated prompt tokens.
    pub prompt_tokens: u32,
    /// The completion budget the client set, if any.
    pub max_output_tokens: Option<u32>,
}

impl From<&RequestFeatures> for NeededCapabilities {
    fn from(features: &RequestFeatures) -> Self {
        Self {
            tools: features.needs_tools,
            images: features.needs_vision,
            structured_output: features.needs_structured_output,
            long_context: features.prompt_tokens_estimate >= LONG_CONTEXT_TOKENS,
            prompt_tokens: features.prompt_tokens_estimate,
            max_output_tokens: features.max_output_tokens,
        }
    }
}

/// The result of analysing one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The most likely task type.
    pub task: TaskType,
    /// Probability of each task type, in the order of [`TaskType::ALL`].
    pub task_scores: TaskScores,
    /// How hard the conversation is, `0..=1`.
    pub difficulty: f32,
    /// The language it is written in.
    pub language: Language,
    /// What the model must support.
    pub needs: NeededCapabilities,
    /// Posterior probability of each cluster of the profile the analysis used.
    pub clusters: Vec<f32>,
    /// The profile's nearest labelled examples, most similar first.
    pub neighbours: Vec<Neighbour>,
    /// The prompt's hashed n-gram features as the profile weighs them (IDF, unit length): the
    /// input of the profile's per-model predictors.
    pub features: SparseVector,
    /// The prompt's static embedding ([`embed`]), at unit length.
    pub embedding: Vec<f32>,
}

/// Bytes of the last user turn read from its start and from its end.
const LAST_TURN_HEAD: usize = 1024;
const LAST_TURN_TAIL: usize = 2048;
/// Bytes read from system prompts, earlier user turns and the last assistant turn.
const SYSTEM_BYTES: usize = 768;
const EARLIER_BYTES: usize = 1024;
const ASSISTANT_BYTES: usize = 512;
/// Bytes of each last-turn window read for language detection.
const LANGUAGE_SAMPLE_BYTES: usize = 768;

/// Analyses a conversation: rules for task, difficulty and language, then the profile's
/// classifier. Pure and deterministic.
pub fn analyze(
    conversation: &Conversation<'_>,
    request: &RequestFeatures,
    classifier: &Classifier,
) -> Analysis {
    let windows = windows(conversation);
    let mut rules = RuleScores::default();
    let mut language = LanguageCounts::default();
    let mut lowered = Vec::new();
    for (window, is_last) in &windows {
        lowered.clear();
        lowered.extend(window.text.bytes().map(|b| b.to_ascii_lowercase()));
        task::scan(&lowered, window.weight, *is_last, &mut rules);
        // A sample is enough to tell the script and the common function words.
        if *is_last {
            language.add(head(window.text, LANGUAGE_SAMPLE_BYTES));
        }
    }
    let plain: Vec<Window<'_>> = windows.iter().map(|it| it.0).collect();
    let mut features = features::hash_features(&plain, classifier.bits());
    let rule_prior = rules.probabilities();
    let input = model_input(&plain, &features, classifier.bits(), rule_prior);
    let model_scores = task_model::builtin().map(|model| model.probabilities(&input));
    classifier.weigh(&mut features);
    let classification =
        classifier.classify(&features, model_scores.as_ref().unwrap_or(&rule_prior));
    let task_scores = model_scores.unwrap_or(classification.task_scores);
    let task = TaskType::ALL
        .into_iter()
        .max_by(|a, b| {
            task_scores[a.index()]
                .total_cmp(&task_scores[b.index()])
                .then(b.index().cmp(&a.index()))
        })
        .unwrap_or(TaskType::GeneralQa);
    let user_turns = conversation
        .turns
        .iter()
        .filter(|it| it.role == Role::User)
        .count();
    Analysis {
        task,
        task_scores,
        difficulty: difficulty::estimate(&rules, &task_scores, user_turns),
        language: language.language(),
        needs: NeededCapabilities::from(request),
        clusters: classification.clusters,
        neighbours: classification.neighbours,
        features,
        embedding: input.embedding,
    }
}

/// The task classifier's input from the windows, their raw n-grams at `raw_bits` and the rules'
/// prior.
fn model_input(
    windows: &[Window<'_>],
    raw: &SparseVector,
    raw_bits: u8,
    rules: TaskScores,
) -> task_model::TaskInput {
    let embedding = embed::embedder().embed(windows);
    let ngrams = match task_model::builtin() {
        Some(model) if model.bits() <= raw_bits => task_model::fold(raw, model.bits()),
        Some(model) => task_model::fold(
            &features::hash_features(windows, model.bits()),
            model.bits(),
        ),
        None => SparseVector::default(),
    };
    task_model::TaskInput {
        embedding,
        ngrams,
        rules,
    }
}

/// What the task classifier reads of a conversation, with its n-grams folded to `bits` slots:
/// training uses it to featurize labelled prompts exactly as routing does.
pub fn task_input(conversation: &Conversation<'_>, bits: u8) -> task_model::TaskInput {
    let windows = windows(conversation);
    let mut rules = RuleScores::default();
    let mut lowered = Vec::new();
    for (window, is_last) in &windows {
        lowered.clear();
        lowered.extend(window.text.bytes().map(|b| b.to_ascii_lowercase()));
        task::scan(&lowered, window.weight, *is_last, &mut rules);
    }
    let plain: Vec<Window<'_>> = windows.iter().map(|it| it.0).collect();
    let raw = features::hash_features(&plain, bits);
    task_model::TaskInput {
        embedding: embed::embedder().embed(&plain),
        ngrams: task_model::fold(&raw, bits),
        rules: rules.probabilities(),
    }
}

/// The feature vector analysis would compute for `conversation` (raw term frequencies, before
/// the profile's weighting). Calibration uses it to featurize training prompts exactly as routing
/// will.
pub fn raw_features(conversation: &Conversation<'_>, bits: u8) -> SparseVector {
    let windows = windows(conversation);
    let plain: Vec<Window<'_>> = windows.iter().map(|it| it.0).collect();
    features::hash_features(&plain, bits)
}

/// The keyword/rule view of a conversation alone (task prior and difficulty), without a profile.
pub fn rule_view(conversation: &Conversation<'_>) -> (TaskScores, f32) {
    let mut rules = RuleScores::default();
    let mut lowered = Vec::new();
    for (window, is_last) in windows(conversation) {
        lowered.clear();
        lowered.extend(window.text.bytes().map(|b| b.to_ascii_lowercase()));
        task::scan(&lowered, window.weight, is_last, &mut rules);
    }
    let prior = rules.probabilities();
    let user_turns = conversation
        .turns
        .iter()
        .filter(|it| it.role == Role::User)
        .count();
    (prior, difficulty::estimate(&rules, &prior, user_turns))
}

/// The windows analysis reads, each flagged when it comes from the last user turn.
fn windows<'c>(conversation: &'c Conversation<'_>) -> Vec<(Window<'c>, bool)> {
    let mut out = Vec::with_capacity(8);
    let turns = &conversation.turns;
    let last_user = turns.iter().rposition(|it| it.role == Role::User);
    if let Some(idx) = last_user {
        let text = turns[idx].text.as_ref();
        if text.len() <= LAST_TURN_HEAD + LAST_TURN_TAIL {
            out.push((Window { text, weight: 1.0 }, true));
        } else {
            out.push((window(head(text, LAST_TURN_HEAD), 1.0), true));
            out.push((window(tail(text, LAST_TURN_TAIL), 1.0), true));
        }
    }
    let mut system_left = SYSTEM_BYTES;
    let mut earlier_left = EARLIER_BYTES;
    let mut assistant_seen = false;
    for (idx, turn) in turns.iter().enumerate().rev() {
        if Some(idx) == last_user {
            continue;
        }
        match turn.role {
            Role::System | Role::Developer if system_left > 0 => {
                let text = head(&turn.text, system_left);
                system_left -= text.len();
                out.push((window(text, 0.35), false));
            }
            Role::User if earlier_left > 0 => {
                let text = tail(&turn.text, earlier_left);
                earlier_left -= text.len();
                out.push((window(text, 0.5), false));
            }
            Role::Assistant if !assistant_seen => {
                assistant_seen = true;
                out.push((window(tail(&turn.text, ASSISTANT_BYTES), 0.25), false));
            }
            _ => {}
        }
    }
    out
}

fn window(text: &str, weight: f32) -> Window<'_> {
    Window { text, weight }
}

/// At most `max` bytes from the start of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// At most `max` bytes from the end of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auto::profile::Profile;

    #[test]
    fn reads_the_right_turns_of_a_request() {
        let body = r#"{"messages":[
            {"role":"system","content":"You are a translator."},
            {"role":"user","content":"one"},{"role":"assistant","content":"a1"},
            {"role":"user","content":"two"},{"role":"tool","content":"tool output"},
            {"role":"user","content":"three"},{"role":"assistant","content":"a2"},
            {"role":"user","content":"Translate into French: good morning"}]}"#;
        let request = ChatRequest::parse(body.as_bytes()).unwrap();
        let conversation = Conversation::from_request(&request);
        let texts: Vec<&str> = conversation
            .turns
            .iter()
            .map(|it| it.text.as_ref())
            .collect();
        assert_eq!(
            texts,
            [
                "You are a translator.",
                "two",
                "three",
                "a2",
                "Translate into French: good morning"
            ]
        );
        let profile = Profile::demo().unwrap();
        let analysis = profile.analyze(&conversation, &request.features());
        assert_eq!(analysis.task, TaskType::Translation);
        assert_eq!(analysis.language.code(), "en");
    }

    #[test]
    fn windows_are_bounded_and_cut_at_char_boundaries() {
        let long = "é".repeat(10_000);
        let conversation = Conversation::user(&long);
        let windows = windows(&conversation);
        let total: usize = windows.iter().map(|it| it.0.text.len()).sum();
        assert!(total <= LAST_TURN_HEAD + LAST_TURN_TAIL, "{total}");
        assert_eq!(head("héllo", 2), "h");
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }

    #[test]
    fn needs_come_from_the_request_features() {
        let features = RequestFeatures {
            needs_tools: true,
            needs_vision: false,
            needs_structured_output: true,
            prompt_tokens_estimate: LONG_CONTEXT_TOKENS,
            max_output_tokens: Some(10),
        };
        let needs = NeededCapabilities::from(&features);
        assert!(needs.tools && needs.structured_output && needs.long_context && !needs.images);
        assert_eq!(needs.max_output_tokens, Some(10));
        let short = RequestFeatures {
            prompt_tokens_estimate: LONG_CONTEXT_TOKENS - 1,
            ..features
        };
        assert!(!NeededCapabilities::from(&short).long_context);
    }
}
