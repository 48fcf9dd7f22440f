//! Progress bars for the long runs of `calibrate` and `eval-router`: the step at hand, the work
//! done, the time spent and the time left, on standard error (hidden when it is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` units with a message for the step at hand and the estimated time left.
pub(crate) fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("  {msg:40} {bar:30} {percent:>3}%, {elapsed} (~{eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// A bar that draws nothing (tests, and callers that report otherwise).
pub(crate) fn hidden() -> ProgressBar {
    ProgressBar::hidden()
}
