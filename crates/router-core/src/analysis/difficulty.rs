//! How hard a conversation is, from 0 (trivial) to 1 (very hard).
//!
//! A logistic score over cheap cues: the length of the last user turn, words asking for hard work
//! (prove, optimize, edge cases, step by step), constraints (must, exactly, without), how many
//! turns the conversation has had, and the task type (a greeting is easy, a proof is not).
//! Selection reads quality per difficulty bucket, so the cues only need to rank prompts roughly.

use super::task::{RuleScores, TaskScores, TaskType};

/// Per task type, how much harder than average its prompts tend to be (logit units).
const TASK_BIAS: [(TaskType, f32); 9] = [
    (TaskType::Code, 0.4),
    (TaskType::Math, 0.5),
    (TaskType::Reasoning, 0.4),
    (TaskType::CreativeWriting, -0.1),
    (TaskType::Summarization, -0.3),
    (TaskType::Translation, -0.2),
    (TaskType::Extraction, -0.2),
    (TaskType::GeneralQa, 0.0),
    (TaskType::ChitChat, -1.5),
];

/// The difficulty, in `0..=1`.
pub fn estimate(rules: &RuleScores, task_scores: &TaskScores, user_turns: usize) -> f32 {
    let words = rules.last_turn_words as f32;
    let length = ((1.0 + words).ln() / (1.0f32 + 800.0).ln()).min(1.0);
    let task_bias: f32 = TASK_BIAS
        .iter()
        .map(|(task, bias)| task_scores[task.index()] * bias)
        .sum();
    let turns = user_turns.saturating_sub(1).min(3) as f32;
    let logit = -1.6
        + 1.2 * length
        + 0.7 * rules.hard_cues.min(3.0)
        + 0.25 * rules.constraints.min(4.0)
        + 0.1 * turns
        + task_bias;
    1.0 / (1.0 + (-logit).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::task::scan;

    fn difficulty(text: &str) -> f32 {
        let mut rules = RuleScores::default();
        scan(text.to_ascii_lowercase().as_bytes(), 1.0, true, &mut rules);
        estimate(&rules, &rules.probabilities(), 1)
    }

    #[test]
    fn hard_prompts_score_higher_than_easy_ones() {
        let easy = difficulty("hi there");
        let medium = difficulty("What is the capital of Australia?");
        let hard = difficulty(
            "Prove rigorously that the algorithm runs in O(n log n) and derive the invariant. \
             It must handle every edge case, step by step, without extra memory.",
        );
        assert!(easy < medium && medium < hard, "{easy} {medium} {hard}");
        assert!((0.0..=1.0).contains(&easy) && (0.0..=1.0).contains(&hard));
    }
}
