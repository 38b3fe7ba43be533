//! users (being written)
