//! The catalog ids a calibrated profile is keyed by: every model name of the data must be a
//! catalog id (`author/slug`) or be mapped to one with `--map data_name=author/slug`, so a
//! profile never names models the server's catalog cannot have.

use std::collections::BTreeMap;

use anyhow::bail;
use router_core::catalog::is_model_id;

/// The catalog id of each data model name, from the data's names and the `--map` entries.
pub(crate) fn catalog_names(
    models: &[String],
    map: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut mapped = BTreeMap::new();
    for entry in map {
        let Some((from, to)) = entry.split_once('=') else {
            bail!("--map {entry}: expected data_name=author/slug");
        };
        if !is_model_id(to) {
            bail!("--map {entry}: `{to}` is not a catalog id (author/slug)");
        }
        if !models.iter().any(|it| it == from) {
            bail!("--map {entry}: the data has no model `{from}`");
        }
        mapped.insert(from.to_owned(), to.to_owned());
    }
    let unmapped: Vec<&str> = models
        .iter()
        .filter(|it| !mapped.contains_key(*it) && !is_model_id(it))
        .map(String::as_str)
        .collect();
    if !unmapped.is_empty() {
        bail!(
            "these model names are not catalog ids (author/slug), so the server could not match \
             them to its catalog: {}; name each one's catalog model with \
             --map data_name=author/slug (for example --map {}=author/slug)",
            unmapped.join(", "),
            unmapped[0]
        );
    }
    let mut out = BTreeMap::new();
    for model in models {
        let id = mapped.get(model).cloned().unwrap_or_else(|| model.clone());
        if let Some((other, _)) = out.iter().find(|(_, it)| **it == id) {
            bail!("`{other}` and `{model}` would both be `{id}`");
        }
        out.insert(model.clone(), id);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(models: &[&str]) -> Vec<String> {
        models.iter().map(|it| (*it).to_owned()).collect()
    }

    #[test]
    fn names_that_are_not_catalog_ids_need_a_map() {
        let models = names(&["gpt-4-1106-preview", "meta/llama-2-70b-chat"]);
        let err = catalog_names(&models, &[]).unwrap_err().to_string();
        assert!(
            err.contains("gpt-4-1106-preview") && err.contains("--map"),
            "{err}"
        );
        assert!(!err.contains("meta/llama"), "{err}");

        let map = names(&["gpt-4-1106-preview=openai/gpt-4-turbo"]);
        let ok = catalog_names(&models, &map).unwrap();
        assert_eq!(ok["gpt-4-1106-preview"], "openai/gpt-4-turbo");
        assert_eq!(ok["meta/llama-2-70b-chat"], "meta/llama-2-70b-chat");
    }

    #[test]
    fn bad_map_entries_are_refused() {
        let models = names(&["a/x", "b"]);
        for bad in ["b", "b=notanid", "c=openai/x", "b=a/x"] {
            assert!(catalog_names(&models, &names(&[bad])).is_err(), "{bad}");
        }
    }
}
