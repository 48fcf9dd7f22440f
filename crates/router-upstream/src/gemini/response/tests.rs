//! Tests of the Gemini answer readers.
