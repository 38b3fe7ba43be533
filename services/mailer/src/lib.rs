//! mailer (being written)
