//! Tests of the Messages answer readers.
