//! Task types and the keyword/rule priors that recognise them.
//!
//! The rules read words and a few structural cues (code fences, operators, question marks) and
//! give each [`TaskType`] a score; [`RuleScores::probabilities`] turns them into a prior that the
//! learned classifier of a profile refines (see [`super::classifier`]).

use serde::{Deserialize, Serialize};

/// What a conversation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// Writing, fixing, explaining or reviewing code.
    Code,
    /// Calculation, algebra, proofs, word problems.
    Math,
    /// Multi-step reasoning, analysis, comparison, planning.
    Reasoning,
    /// Stories, poems, jokes, marketing copy.
    CreativeWriting,
    /// Condensing a given text.
    Summarization,
    /// Turning text from one language into another.
    Translation,
    /// Pulling fields out of text, classification, structured (JSON) output.
    Extraction,
    /// Factual questions and explanations.
    GeneralQa,
    /// Greetings and small talk.
    ChitChat,
}

impl TaskType {
    /// Every task type, in a fixed order (the order of [`TaskScores`]).
    pub const ALL: [TaskType; 9] = [
        TaskType::Code,
        TaskType::Math,
        TaskType::Reasoning,
        TaskType::CreativeWriting,
        TaskType::Summarization,
        TaskType::Translation,
        TaskType::Extraction,
        TaskType::GeneralQa,
        TaskType::ChitChat,
    ];

    /// The `snake_case` name used in profiles and explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Code => "code",
            TaskType::Math => "math",
            TaskType::Reasoning => "reasoning",
            TaskType::CreativeWriting => "creative_writing",
            TaskType::Summarization => "summarization",
            TaskType::Translation => "translation",
            TaskType::Extraction => "extraction",
            TaskType::GeneralQa => "general_qa",
            TaskType::ChitChat => "chit_chat",
        }
    }

    /// Parses the `snake_case` name.
    pub fn from_name(name: &str) -> Option<Self> {
        TaskType::ALL.into_iter().find(|it| it.as_str() == name)
    }

    /// Position in [`TaskType::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One probability (or score) per [`TaskType`], in the order of [`TaskType::ALL`].
pub type TaskScores = [f32; 9];

/// Evidence for each task type collected by the rules, plus a few counts difficulty uses.
#[derive(Debug, Clone, Default)]
pub struct RuleScores {
    /// Weighted evidence per task type.
    pub scores: TaskScores,
    /// Weighted count of words asking for hard work (prove, optimize, edge cases, ...).
    pub hard_cues: f32,
    /// Weighted count of constraint words (must, exactly, without, ...).
    pub constraints: f32,
    /// Words read in the last user turn.
    pub last_turn_words: u32,
}

impl RuleScores {
    /// A prior over task types: a softmax of the evidence, with a small base score for general
    /// questions so that a conversation without cues reads as a general question.
    pub fn probabilities(&self) -> TaskScores {
        let mut logits = self.scores;
        logits[TaskType::GeneralQa.index()] += 0.75;
        softmax(&mut logits, 1.0);
        logits
    }
}

/// Turns logits into probabilities in place: `exp(x / temperature)`, normalized.
pub(crate) fn softmax(values: &mut [f32], temperature: f32) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        let uniform = 1.0 / values.len().max(1) as f32;
        values.iter_mut().for_each(|it| *it = uniform);
        return;
    }
    let mut sum = 0.0;
    for value in values.iter_mut() {
        *value = ((*value - max) / temperature).exp();
        sum += *value;
    }
    for value in values.iter_mut() {
        *value /= sum;
    }
}

/// Reads one window of (ASCII lower-cased) text into `out`, each cue weighted by `weight`.
pub(crate) fn scan(text: &[u8], weight: f32, is_last_turn: bool, out: &mut RuleScores) {
    let mut previous: &[u8] = b"";
    let mut start = None;
    let mut words = 0u32;
    for (idx, &b) in text.iter().chain(std::iter::once(&b' ')).enumerate() {
        if super::features::is_word_byte(b) {
            start.get_or_insert(idx);
            continue;
        }
        if let Some(begin) = start.take() {
            let word = &text[begin..idx];
            words += 1;
            word_cue(word, weight, out);
            pair_cue(previous, word, weight, out);
            previous = word;
        }
    }
    if is_last_turn {
        out.last_turn_words += words;
    }
    structure_cues(text, weight, out);
}

fn add(out: &mut RuleScores, task: TaskType, amount: f32) {
    out.scores[task.index()] += amount;
}

fn word_cue(word: &[u8], weight: f32, out: &mut RuleScores) {
    use TaskType::*;
    let (task, strength): (TaskType, f32) = match word {
        b"code" | b"function" | b"python" | b"javascript" | b"typescript" | b"rust" | b"java"
        | b"golang" | b"sql" | b"bug" | b"debug" | b"compile" | b"compiler" | b"traceback"
        | b"exception" | b"refactor" | b"regex" | b"api" | b"def" | b"struct" | b"impl"
        | b"class" | b"script" | b"stacktrace" | b"segfault" | b"npm" | b"cargo" | b"html"
        | b"css" | b"bash" | b"kotlin" | b"swift" | b"cpp" | b"lambda" | b"async" | b"unittest"
        | b"pytest" | b"variable" | b"method" | b"programming" | b"algorithm" | b"implement" => {
            (Code, 1.2)
        }
        b"equation" | b"integral" | b"derivative" | b"solve" | b"theorem" | b"prove" | b"proof"
        | b"lemma" | b"probability" | b"matrix" | b"polynomial" | b"calculate" | b"compute"
        | b"sum" | b"algebra" | b"geometry" | b"triangle" | b"prime" | b"integer" | b"fraction"
        | b"sqrt" | b"modulo" | b"factorial" | b"arithmetic" | b"calculus" | b"math"
        | b"mathematics" | b"eigenvalue" | b"limit" | b"infinitely" => (Math, 1.2),
        b"analyze" | b"analyse" | b"analysis" | b"compare" | b"tradeoffs" | b"tradeoff"
        | b"pros" | b"cons" | b"evaluate" | b"reasoning" | b"reason" | b"argue" | b"argument"
        | b"implications" | b"strategy" | b"plan" | b"decide" | b"logic" | b"logical"
        | b"puzzle" | b"riddle" | b"deduce" | b"infer" | b"critique" | b"assess"
        | b"hypothesis" => (Reasoning, 1.0),
        b"poem" | b"poetry" | b"story" | b"limerick" | b"haiku" | b"sonnet" | b"lyrics"
        | b"song" | b"novel" | b"fiction" | b"character" | b"plot" | b"rhyme" | b"creative"
        | b"slogan" | b"tagline" | b"joke" | b"screenplay" | b"fairy" | b"verse"
        | b"imaginative" | b"narrative" => (CreativeWriting, 1.4),
        b"summarize" | b"summarise" | b"summary" | b"tldr" | b"condense" | b"recap"
        | b"abstract" | b"shorten" | b"gist" | b"synopsis" | b"outline" => (Summarization, 1.6),
        b"translate" | b"translation" | b"translated" | b"traduce" | b"traduire" | b"traducir"
        | b"\xc3\xbcbersetze" | b"translator" => (Translation, 2.2),
        b"extract" | b"json" | b"parse" | b"fields" | b"entities" | b"classify" | b"label"
        | b"categorize" | b"csv" | b"schema" | b"yaml" | b"table" | b"structured"
        | b"sentiment" | b"tag" | b"ner" | b"key" | b"keys" => (Extraction, 1.0),
        b"hi" | b"hello" | b"hey" | b"thanks" | b"thank" | b"lol" | b"bye" | b"morning"
        | b"hiya" | b"howdy" | b"sup" | b"bonjour" | b"hola" | b"ciao" | b"cheers" => {
            (ChitChat, 1.2)
        }
        b"what" | b"who" | b"when" | b"where" | b"which" | b"explain" | b"define" | b"describe"
        | b"meaning" | b"difference" | b"history" | b"fact" | b"facts" => (GeneralQa, 0.5),
        b"must" | b"exactly" | b"without" | b"only" | b"ensure" | b"constraint"
        | b"constraints" | b"requirement" | b"requirements" | b"least" | b"most" => {
            out.constraints += weight;
            return;
        }
        b"optimize" | b"optimise" | b"efficient" | b"complexity" | b"rigorous" | b"rigorously"
        | b"derive" | b"edge" | b"concurrency" | b"distributed" | b"architecture" | b"scalable"
        | b"formal" | b"formally" | b"asymptotic" | b"invariant" | b"counterexample"
        | b"olympiad" | b"nontrivial" => {
            out.hard_cues += weight;
            return;
        }
        b"why" | b"how" => {
            add(out, Reasoning, 0.3 * weight);
            add(out, GeneralQa, 0.3 * weight);
            return;
        }
        _ => return,
    };
    if matches!(word, b"prove" | b"proof" | b"theorem" | b"lemma") {
        out.hard_cues += weight;
    }
    add(out, task, strength * weight);
}

fn pair_cue(previous: &[u8], word: &[u8], weight: f32, out: &mut RuleScores) {
    use TaskType::*;
    let cue = match (previous, word) {
        (b"step", b"step") | (b"think", b"carefully") | (b"explain", b"why") => {
            out.hard_cues += weight;
            (Reasoning, 1.0)
        }
        (b"into" | b"to" | b"in", lang) if is_language_name(lang) => (Translation, 1.5),
        (b"how", b"are") | (b"good", b"morning") => (ChitChat, 1.0),
        (b"key", b"points") | (b"main", b"points") | (b"in", b"brief") => (Summarization, 1.2),
        (b"write", b"a") | (b"once", b"upon") => (CreativeWriting, 0.4),
        (b"test", b"case" | b"cases") | (b"unit", b"test" | b"tests") => (Code, 1.0),
        (b"how", b"many") | (b"how", b"much") => (Math, 0.4),
        _ => return,
    };
    add(out, cue.0, cue.1 * weight);
}

fn is_language_name(word: &[u8]) -> bool {
    matches!(
        word,
        b"english"
            | b"french"
            | b"spanish"
            | b"german"
            | b"italian"
            | b"portuguese"
            | b"chinese"
            | b"mandarin"
            | b"japanese"
            | b"korean"
            | b"russian"
            | b"arabic"
            | b"hindi"
            | b"dutch"
            | b"polish"
            | b"turkish"
            | b"greek"
            | b"hebrew"
            | b"swedish"
            | b"vietnamese"
            | b"thai"
    )
}

/// Structure: code fences and code-like punctuation, arithmetic, question marks.
fn structure_cues(text: &[u8], weight: f32, out: &mut RuleScores) {
    let mut fences = 0u32;
    let mut code_punct = 0u32;
    let mut math_ops = 0u32;
    let mut questions = 0u32;
    let mut digits = 0u32;
    for (idx, &b) in text.iter().enumerate() {
        match b {
            b'`' if text[idx..].starts_with(b"```") => fences += 1,
            b'{' | b'}' | b';' => code_punct += 1,
            b'=' | b'+' | b'^' | b'*' | b'/' => math_ops += 1,
            b'?' => questions += 1,
            b'0'..=b'9' => digits += 1,
            b'\\' if text[idx..].starts_with(b"\\frac") || text[idx..].starts_with(b"\\int") => {
                math_ops += 4;
            }
            _ => {}
        }
    }
    let len = text.len().max(1) as f32;
    if fences > 0 {
        add(out, TaskType::Code, 2.5 * weight);
    }
    if code_punct as f32 / len > 0.01 {
        add(out, TaskType::Code, 1.5 * weight);
    }
    if math_ops >= 2 && digits >= 2 && (math_ops + digits) as f32 / len > 0.04 {
        add(out, TaskType::Math, 1.5 * weight);
    }
    if questions > 0 {
        add(out, TaskType::GeneralQa, 0.3 * weight);
    }
    // A very short message with no other cue reads as small talk.
    if text.len() < 24 && questions == 0 && digits == 0 {
        add(out, TaskType::ChitChat, 0.6 * weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> TaskType {
        let mut scores = RuleScores::default();
        scan(text.to_ascii_lowercase().as_bytes(), 1.0, true, &mut scores);
        let probabilities = scores.probabilities();
        TaskType::ALL
            .into_iter()
            .max_by(|a, b| probabilities[a.index()].total_cmp(&probabilities[b.index()]))
            .unwrap()
    }

    #[test]
    fn recognises_each_task_type() {
        let cases = [
            (
                "Fix this Python function, it raises a TypeError:\n```def f(x): return x + '1'```",
                TaskType::Code,
            ),
            (
                "Prove that there are infinitely many prime numbers.",
                TaskType::Math,
            ),
            (
                "Compare the tradeoffs of these two strategies and decide which plan is better.",
                TaskType::Reasoning,
            ),
            (
                "Write a limerick about a cat who sails the sea.",
                TaskType::CreativeWriting,
            ),
            (
                "Summarize the following article in three key points: ...",
                TaskType::Summarization,
            ),
            (
                "Translate into French: the weather is nice today.",
                TaskType::Translation,
            ),
            (
                "Extract the name, date and amount from this invoice as JSON.",
                TaskType::Extraction,
            ),
            ("What is the capital of Australia?", TaskType::GeneralQa),
            ("hey, how are you?", TaskType::ChitChat),
        ];
        for (text, expected) in cases {
            assert_eq!(top(text), expected, "{text}");
        }
    }

    #[test]
    fn names_round_trip() {
        for task in TaskType::ALL {
            assert_eq!(TaskType::from_name(task.as_str()), Some(task));
            assert_eq!(TaskType::ALL[task.index()], task);
        }
        assert_eq!(TaskType::from_name("cooking"), None);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut values = [1.0, 2.0, 3.0];
        softmax(&mut values, 1.0);
        assert!((values.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(values[2] > values[1] && values[1] > values[0]);
    }
}
