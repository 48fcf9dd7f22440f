//! What a mock model answers, decided once for every wire format.
//!
//! The same question gets the same answer whatever format it came in, so a test can compare
//! the formats: a request that offers tools (and does not answer a tool call) gets a call of
//! the forced or first tool, with arguments sampled from its schema ([`sample`]); a request for
//! JSON gets JSON sampled from its schema; a request for reasoning gets a short thinking text.

use serde_json::{Map, Value};

use crate::reply::{completion_tokens, default_reply, tokens_of_chars};
use crate::script::Behavior;

/// The reasoning text a mock thinks when asked to.
const THINKING_PREFIX: &str = "Mock thinking about: ";

/// What a request asks for, read from any wire format.
#[derive(Debug, Default)]
pub(crate) struct Ask<'a> {
    /// The text of the last user message.
    pub(crate) last_user_text: &'a str,
    /// The tools offered: name and parameters schema.
    pub(crate) tools: Vec<(String, Option<Value>)>,
    /// The tool the request forces, if any.
    pub(crate) forced_tool: Option<String>,
    /// Tool use is turned off (`tool_choice: none`).
    pub(crate) tools_off: bool,
    /// The last message answers a tool call.
    pub(crate) answers_tool_call: bool,
    /// JSON is asked for: `Some(schema)` for a schema, `Some(Value::Null)` for any object.
    pub(crate) json: Option<Value>,
    /// Reasoning is asked for.
    pub(crate) thinking: bool,
}

/// The answer.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The reasoning text, when asked for.
    pub(crate) thinking: Option<String>,
    /// The text (empty for a tool call).
    pub(crate) text: String,
    /// The tool call: name and arguments (a JSON object's text).
    pub(crate) tool_call: Option<(String, String)>,
    /// Completion tokens, reasoning included.
    pub(crate) completion_tokens: u32,
    /// Reasoning tokens.
    pub(crate) reasoning_tokens: u32,
}

/// Decides the answer to `ask` for a model that behaves as `behavior`.
pub(crate) fn plan(ask: &Ask<'_>, behavior: &Behavior) -> Plan {
    let schema_of = |name: &str| {
        ask.tools
            .iter()
            .find(|(tool, _)| tool == name)
            .and_then(|(_, schema)| schema.as_ref())
    };
    let offered = (!ask.tools_off && !ask.answers_tool_call)
        .then(|| {
            ask.forced_tool
                .clone()
                .or_else(|| ask.tools.first().map(|(name, _)| name.clone()))
        })
        .flatten();
    let tool_call = behavior.tool_call.clone().or(offered).map(|name| {
        let arguments =
            schema_of(&name).map_or_else(|| "{}".to_owned(), |it| sample(it).to_string());
        (name, arguments)
    });
    let text = match (&tool_call, &behavior.reply, &ask.json) {
        (Some(_), _, _) => String::new(),
        (None, Some(reply), _) => reply.clone(),
        (None, None, Some(Value::Null)) => {
            serde_json::json!({"reply": default_reply(ask.last_user_text)}).to_string()
        }
        (None, None, Some(schema)) => sample(schema).to_string(),
        (None, None, None) => default_reply(ask.last_user_text),
    };
    let thinking = behavior.reasoning.clone().or_else(|| {
        ask.thinking.then(|| {
            let quoted: String = ask.last_user_text.chars().take(40).collect();
            format!("{THINKING_PREFIX}{}", quoted.trim())
        })
    });
    let reasoning_tokens = thinking.as_deref().map_or(0, completion_tokens);
    let answer_tokens = match (behavior.completion_tokens, &tool_call) {
        (Some(tokens), _) => tokens,
        (None, Some((name, arguments))) => tokens_of_chars(name.len() + arguments.len()).max(1),
        (None, None) => completion_tokens(&text),
    };
    Plan {
        thinking,
        text,
        tool_call,
        completion_tokens: answer_tokens.saturating_add(reasoning_tokens),
        reasoning_tokens,
    }
}

/// A value that matches `schema`: every property of an object, the first of an `enum`, `"mock"`
/// for a string, 1 for a number, `true`, one item for an array.
pub(crate) fn sample(schema: &Value) -> Value {
    sample_at(schema, 0)
}

fn sample_at(schema: &Value, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|it| it.first())
    {
        return first.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|it| it.first())
        {
            return sample_at(first, depth + 1);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind.to_ascii_lowercase().as_str() {
        "object" => {
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), sample_at(property, depth + 1));
                }
            }
            Value::Object(object)
        }
        "array" => match schema.get("items") {
            Some(items) => Value::Array(vec![sample_at(items, depth + 1)]),
            None => Value::Array(Vec::new()),
        },
        "integer" | "number" => Value::from(1),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => Value::String("mock".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn samples_match_their_schema() {
        let schema = json!({"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]},"days":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},"ok":{"type":["boolean","null"]}},"required":["city"],"additionalProperties":false});
        assert_eq!(
            sample(&schema),
            json!({"city":"mock","unit":"c","days":1,"tags":["mock"],"ok":true})
        );
    }

    #[test]
    fn offered_tools_are_called_until_a_result_comes_back() {
        let mut ask = Ask {
            last_user_text: "weather?",
            tools: vec![(
                "get_weather".to_owned(),
                Some(json!({"type":"object","properties":{"city":{"type":"string"}}})),
            )],
            ..Ask::default()
        };
        let plan = plan(&ask, &Behavior::default());
        assert_eq!(
            plan.tool_call,
            Some(("get_weather".to_owned(), r#"{"city":"mock"}"#.to_owned()))
        );
        ask.answers_tool_call = true;
        let after = super::plan(&ask, &Behavior::default());
        assert_eq!(after.tool_call, None);
        assert_eq!(after.text, "Mock reply to: weather?");
    }

    #[test]
    fn thinking_counts_as_completion_and_reasoning() {
        let ask = Ask {
            last_user_text: "why",
            thinking: true,
            ..Ask::default()
        };
        let plan = plan(&ask, &Behavior::default());
        assert_eq!(plan.thinking.as_deref(), Some("Mock thinking about: why"));
        assert_eq!(plan.reasoning_tokens, 4);
        assert_eq!(plan.completion_tokens, 4 + 4);
    }
}
