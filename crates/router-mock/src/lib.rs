//! Mock providers.
