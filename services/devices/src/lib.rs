//! devices (being written)
