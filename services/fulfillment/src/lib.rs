//! fulfillment (being written)
