//! `${VAR}` expansion in every string value of the parsed TOML tree.
//!
//! Syntax, inside any string value (not inside key names):
//!
//! - `${NAME}`: the variable's value; an unset variable is a problem at the value's key path.
//! - `${NAME:-default}`: the variable's value, or `default` when it is unset or empty. The default
//!   is literal text up to the first `}`.
//! - `$${`: a literal `${`. Any other `$` is kept as it is.
//!
//! Names are ASCII letters, digits and `_`, not starting with a digit. Expansion is not recursive:
//! a variable's value is inserted as it is. Messages name variables, never their values.

use toml::Value;

use super::problems::{Problems, join_index, join_key};

/// Expands every string value in `tree`, recording a problem for each string that cannot be
/// expanded (the string is then left as it was).
pub(super) fn expand_tree(
    tree: &mut Value,
    vars: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) {
    walk(tree, "", vars, problems);
}

fn walk(
    value: &mut Value,
    path: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) {
    match value {
        Value::String(text) => match expand_str(text, vars) {
            Ok(Some(expanded)) => *text = expanded,
            Ok(None) => {}
            Err(message) => problems.push(path, message),
        },
        Value::Array(items) => {
            for (idx, item) in items.iter_mut().enumerate() {
                walk(item, &join_index(path, idx), vars, problems);
            }
        }
        Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                walk(item, &join_key(path, key), vars, problems);
            }
        }
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => {}
    }
}

/// The expansion of `text`, or `None` when it has nothing to expand.
fn expand_str(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
    if !text.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut unset: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let from_dollar = &rest[dollar..];
        if let Some(after) = from_dollar.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        let Some(body_and_rest) = from_dollar.strip_prefix("${") else {
            out.push('$');
            rest = &from_dollar[1..];
            continue;
        };
        let Some(close) = body_and_rest.find('}') else {
            return Err(
                "unterminated `${`: close it with `}`, or write `$${` for a literal `${`"
                    .to_owned(),
            );
        };
        let body = &body_and_rest[..close];
        rest = &body_and_rest[close + 1..];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        if !is_var_name(name) {
            return Err(format!(
                "`${{{name}}}` is not a variable reference: names are ASCII letters, digits and \
                 `_`, not starting with a digit (write `$${{` for a literal `${{`)"
            ));
        }
        match (vars(name), default) {
            (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => unset.push(name),
        }
    }
    out.push_str(rest);
    match unset.as_slice() {
        [] => Ok(Some(out)),
        [name] => Err(format!(
            "variable `{name}` is not set (set it, or give a default: `${{{name}:-default}}`)"
        )),
        names => Err(format!(
            "variables {} are not set (set them, or give defaults: `${{NAME:-default}}`)",
            names
                .iter()
                .map(|it| format!("`{it}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|it| it.is_ascii_alphanumeric() || it == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".to_owned()),
            "PORT" => Some("8443".to_owned()),
            "EMPTY" => Some(String::new()),
            "DOLLARS" => Some("$${x}".to_owned()),
            _ => None,
        }
    }

    fn expand(text: &str) -> Result<String, String> {
        expand_str(text, &vars).map(|it| it.unwrap_or_else(|| text.to_owned()))
    }

    #[test]
    fn substitutes_variables_anywhere_in_a_string() {
        assert_eq!(
            expand("https://${HOST}:${PORT}/v1").unwrap(),
            "https://example.com:8443/v1"
        );
        assert_eq!(expand("${HOST}").unwrap(), "example.com");
        assert_eq!(expand("no variables").unwrap(), "no variables");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(expand("${NOPE:-fallback}").unwrap(), "fallback");
        assert_eq!(expand("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(expand("${HOST:-fallback}").unwrap(), "example.com");
        assert_eq!(expand("${NOPE:-}").unwrap(), "");
        assert_eq!(expand("${NOPE:-a:-b}").unwrap(), "a:-b");
        // Set but empty, without a default: the empty value.
        assert_eq!(expand("[${EMPTY}]").unwrap(), "[]");
    }

    #[test]
    fn escapes_and_lone_dollars_stay_literal() {
        assert_eq!(expand("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(expand("cost $5 or $").unwrap(), "cost $5 or $");
        assert_eq!(expand("$$HOST").unwrap(), "$$HOST");
        // Values are not expanded again.
        assert_eq!(expand("${DOLLARS}").unwrap(), "$${x}");
    }

    #[test]
    fn unset_variables_are_named_in_the_problem() {
        let err = expand("${MISSING}").unwrap_err();
        assert!(err.contains("`MISSING` is not set"), "{err}");
        let err = expand("${A_1}/${HOST}/${B_2}").unwrap_err();
        assert!(err.contains("`A_1`, `B_2` are not set"), "{err}");
    }

    #[test]
    fn malformed_references_are_problems() {
        assert!(expand("${HOST").unwrap_err().contains("unterminated"));
        assert!(
            expand("${}")
                .unwrap_err()
                .contains("is not a variable reference")
        );
        assert!(
            expand("${1X}")
                .unwrap_err()
                .contains("is not a variable reference")
        );
        assert!(
            expand("${A B}")
                .unwrap_err()
                .contains("is not a variable reference")
        );
    }

    #[test]
    fn problems_carry_the_key_path_and_never_the_value() {
        let mut tree: Value = toml::from_str(
            r#"
            top = "${HOST}"
            [providers.openai]
            base_url = "${MISSING_URL}"
            headers = { "X.Y" = "${MISSING_HEADER}" }
            [[models]]
            tags = ["ok", "${MISSING_TAG}"]
            "#,
        )
        .unwrap();
        let mut problems = Problems::default();
        expand_tree(&mut tree, &vars, &mut problems);
        let paths: Vec<_> = problems.into_vec().into_iter().map(|it| it.path).collect();
        assert_eq!(
            paths,
            [
                "models[0].tags[1]",
                "providers.openai.base_url",
                r#"providers.openai.headers."X.Y""#,
            ]
        );
        assert_eq!(tree["top"].as_str(), Some("example.com"));
    }
}
