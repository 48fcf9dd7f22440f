//! Charts drawn by the server as SVG: horizontal bars (a value per model) and columns (a value
//! per time bucket). Each chart carries a `<title>` and `aria-label` and its numbers as text, so
//! it reads without the picture.

use std::fmt::Write as _;

use super::html::esc;

/// Horizontal bars: one labelled bar per `(label, value)`, the value written by `show`.
pub(crate) fn bars(title: &str, rows: &[(String, f64)], show: &dyn Fn(f64) -> String) -> String {
    let height = 24 * rows.len().max(1) + 8;
    let max = rows.iter().map(|it| it.1).fold(0.0_f64, f64::max);
    let mut svg = format!(
        "<figure><figcaption>{title}</figcaption><svg role=\"img\" aria-label=\"{title}\" \
         viewBox=\"0 0 480 {height}\" width=\"480\" height=\"{height}\"><title>{title}</title>",
        title = esc(title)
    );
    if rows.is_empty() {
        svg.push_str("<text x=\"4\" y=\"20\" fill=\"#5b6476\" font-size=\"12\">no requests</text>");
    }
    for (idx, (label, value)) in rows.iter().enumerate() {
        let y = 4 + 24 * idx;
        let width = if max > 0.0 { 200.0 * value / max } else { 0.0 };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\" font-size=\"12\" fill=\"#1d2330\">{label}</text>\
             <rect x=\"190\" y=\"{y}\" width=\"{width:.1}\" height=\"16\" rx=\"3\" fill=\"#2f5bd3\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"12\" fill=\"#5b6476\">{value}</text>",
            ty = y + 12,
            label = esc(&truncate(label, 28)),
            tx = 196.0 + width,
            value = esc(&show(*value)),
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Columns: one column per `(label, value)` in time order; only some labels are written.
pub(crate) fn columns(title: &str, buckets: &[(String, f64)]) -> String {
    let n = buckets.len().max(1);
    let step = 460.0 / n as f64;
    let max = buckets.iter().map(|it| it.1).fold(0.0_f64, f64::max);
    let mut svg = format!(
        "<figure><figcaption>{title}</figcaption><svg role=\"img\" aria-label=\"{title}\" \
         viewBox=\"0 0 480 150\" width=\"480\" height=\"150\"><title>{title}</title>\
         <line x1=\"10\" y1=\"120\" x2=\"470\" y2=\"120\" stroke=\"#dde1e8\"/>",
        title = esc(title)
    );
    let label_every = (n / 6).max(1);
    for (idx, (label, value)) in buckets.iter().enumerate() {
        let height = if max > 0.0 { 100.0 * value / max } else { 0.0 };
        let x = 10.0 + step * idx as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{height:.1}\" fill=\"#2f5bd3\">\
             <title>{label}: {value}</title></rect>",
            y = 120.0 - height,
            w = (step - 2.0).max(1.0),
            label = esc(label),
        );
        if idx % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"136\" font-size=\"10\" fill=\"#5b6476\">{}</text>",
                esc(label)
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"10\" y=\"12\" font-size=\"10\" fill=\"#5b6476\">max {max}</text></svg></figure>"
    );
    svg
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(chars - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale_to_the_largest_value() {
        let svg = bars(
            "Spend",
            &[("a/<b>".to_owned(), 2.0), ("c/d".to_owned(), 1.0)],
            &|it| format!("{it}"),
        );
        assert!(svg.contains("a/&lt;b&gt;"));
        assert!(svg.contains("width=\"200.0\""));
        assert!(svg.contains("width=\"100.0\""));
        let svg = columns(
            "Requests",
            &[("00h".to_owned(), 0.0), ("01h".to_owned(), 4.0)],
        );
        assert!(svg.contains("height=\"100.0\""));
    }
}
