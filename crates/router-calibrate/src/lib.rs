//! Fitting and judging the Auto Router on labelled traffic, offline: the library behind
//! `router-server calibrate` and `router-server eval-router` (and their `cargo xtask` wrappers).
//!
//! - [`calibrate`] fits a quality profile (the file `[auto_router] profile` names) from rows of
//!   `{"id", "prompt", "quality": {model: 0..1}, "cost": {model: usd}}`.
//! - [`eval_router`] cross-validates that fit: each held-out prompt is routed at every dial
//!   through the same analysis and selection code the server runs, and scored as
//!   `shared/eval/score.py` scores it.
//! - [`labelled`] reads prompts labelled with their task type and reports a classifier's
//!   accuracy on them.
//! - [`cli`] is the two tools' command line, shared by `router-server` and the quick developer
//!   binary `router-calibrate` (`src/main.rs`).
//!
//! It sits beside the server, not under it: it uses `router-core` alone, reads and writes files,
//! and shows progress on the terminal. Nothing on the request path depends on it.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the tools' tables, reports and progress are their output, for the person at the terminal"
)]

pub mod calibrate;
pub mod cli;
pub mod eval_router;
pub mod labelled;
mod rows;
