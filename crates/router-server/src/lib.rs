//! Turnout's HTTP server.
