//! tracking (being written)
