//! Provider clients.
