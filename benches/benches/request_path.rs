//! Criterion benches of the request path.
fn main() {}
