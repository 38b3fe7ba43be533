//! The event users publishes, `user.registered`: built here once, for the
//! sign-up route that stages it and for contract verification (`fare
//! contracts verify`), so the message a pact is held against is the one
//! the service sends.

use kit::envelope::EnvelopeError;
use kit::{CorrelationId, Envelope, EventType};

pub use crate::store::Contact;

/// `user.registered` for `contact`, in the chain `correlation_id`, caused by
/// the request `causation_id`.
pub fn user_registered(
    contact: &Contact,
    correlation_id: CorrelationId,
    causation_id: Option<String>,
) -> Result<Envelope, EnvelopeError> {
    let event_type = EventType::parse("user.registered").expect("a catalog event type");
    Envelope::new(crate::NAME, event_type, correlation_id, causation_id, contact)
}
