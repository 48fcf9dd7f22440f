//! HTML building blocks of the pages: escaping, the page frame (navigation, style, a skip link),
//! and small formatting helpers. Every value from a record, the config or a client is escaped.

use std::fmt::Write as _;

use super::store::Principal;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element text and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// `value` percent-encoded for a query string.
pub(crate) fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            // Writing into a `String` cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Which navigation entry a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// Settings > Plugins > Auto Router.
    Settings,
    /// Activity.
    Activity,
    /// Models & providers.
    Models,
    /// The sign-in page (no navigation).
    None,
}

/// Who is signed in, for the header; `None` on the sign-in page.
pub(crate) struct Viewer<'a> {
    /// The principal.
    pub(crate) principal: &'a Principal,
    /// The session's CSRF token, for the sign-out form.
    pub(crate) csrf: &'a str,
}

/// A whole page: `body` inside the frame.
pub(crate) fn page(title: &str, nav: Nav, viewer: Option<&Viewer<'_>>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(out, "<title>{} · Turnout</title>", esc(title));
    out.push_str("<style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>");
    out.push_str("<a class=\"skip\" href=\"#main\">Skip to content</a>");
    out.push_str("<header><span class=\"brand\">Turnout</span>");
    if let Some(viewer) = viewer {
        out.push_str("<nav aria-label=\"Pages\">");
        for (entry, href, label) in [
            (
                Nav::Settings,
                "/ui/settings/plugins/auto-router",
                "Settings",
            ),
            (Nav::Activity, "/ui/activity", "Activity"),
            (Nav::Models, "/ui/models", "Models &amp; providers"),
        ] {
            let current = if entry == nav {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(out, "<a href=\"{href}\"{current}>{label}</a>");
        }
        out.push_str("</nav><span class=\"who\">");
        match viewer.principal {
            Principal::Admin => out.push_str("admin"),
            Principal::Key(name) => {
                let _ = write!(out, "key <b>{}</b>", esc(name));
            }
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/ui/sign-out\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" class=\"link\">Sign out</button></form></span>",
            esc(viewer.csrf)
        );
    }
    out.push_str("</header><main id=\"main\">");
    let _ = write!(out, "<h1>{}</h1>", esc(title));
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// USD with enough digits for per-request costs.
pub(crate) fn usd(value: f64) -> String {
    if value == 0.0 {
        "$0".to_owned()
    } else if value < 0.01 {
        format!("${value:.6}")
    } else {
        format!("${value:.4}")
    }
}

/// `YYYY-MM-DD HH:MM:SS` UTC of Unix milliseconds.
pub(crate) fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The pages' style: a small, quiet admin look; the navigation wraps in a narrow window.
const STYLE: &str = r#"
:root{--fg:#1d2330;--muted:#5b6476;--line:#dde1e8;--bg:#f6f7f9;--card:#fff;--accent:#2f5bd3;--bad:#b42318;--ok:#067647}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.6rem 1.25rem;background:var(--card);border-bottom:1px solid var(--line)}
.brand{font-weight:700;letter-spacing:.02em}
nav{display:flex;flex-wrap:wrap;gap:.25rem}
nav a{padding:.3rem .6rem;border-radius:6px;color:var(--fg);text-decoration:none}
nav a[aria-current=page]{background:#e8eefc;color:var(--accent);font-weight:600}
.who{margin-left:auto;color:var(--muted);font-size:.9em}
main{max-width:1100px;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.35rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.25rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
textarea,input[type=text],input[type=password],select{width:100%;max-width:36rem;font:inherit;padding:.45rem .55rem;border:1px solid #c3c9d4;border-radius:6px;background:#fff}
textarea{min-height:6rem;font-family:ui-monospace,monospace}
input[type=range]{width:100%;max-width:36rem}
button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.link{background:none;border:none;color:var(--accent);padding:0 .25rem;text-decoration:underline}
:focus-visible{outline:3px solid #8fb0ff;outline-offset:2px}
.hint{color:var(--muted);font-size:.9em;margin:.25rem 0}
.error{color:var(--bad)}.ok{color:var(--ok)}
.notice{padding:.6rem .8rem;border-radius:8px;background:#fff6e5;border:1px solid #f3d7a3;margin:0 0 1rem}
.saved{background:#ecfdf3;border-color:#abefc6}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
.scroll{overflow-x:auto}
.inline{display:inline}
.matches{font-family:ui-monospace,monospace;font-size:.85em;color:var(--muted);margin:.25rem 0;max-width:36rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1rem}
svg{max-width:100%;height:auto}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.25rem .5rem}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end}.filters label{margin:0}
.filters select{width:auto}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_formats_times() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(query_value("a b&c"), "a%20b%26c");
    }
}
