//! Which events trigger which mail, and what each mail says.

use kit::envelope::EnvelopeError;
use kit::{Envelope, EventType};
use serde::{Deserialize, Serialize};

use crate::domain::{Email, UserId};
use crate::users::Contact;

/// Why an event cannot become a mail. Both are the event's fault, never
/// going to work.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("mailer sends no mail for {0}")]
    Unsupported(EventType),
    #[error(transparent)]
    Data(#[from] EnvelopeError),
}

/// What triggered a mail, with the facts its text needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Welcome,
    OrderConfirmation { order_id: String, model: String },
    Delivered { order_id: String, tracking_number: String },
}

#[derive(Debug, Deserialize)]
struct UserRegistered {
    user_id: UserId,
}

#[derive(Debug, Deserialize)]
struct OrderPlaced {
    user_id: UserId,
    order_id: String,
    model: String,
}

#[derive(Debug, Deserialize)]
struct PackageDelivered {
    user_id: UserId,
    order_id: String,
    tracking_number: String,
}

impl Trigger {
    /// The user to mail and why.
    pub fn from_event(event: &Envelope) -> Result<(UserId, Trigger), TriggerError> {
        match event.event_type.as_str() {
            "user.registered" => {
                let e: UserRegistered = event.data_as()?;
                Ok((e.user_id, Trigger::Welcome))
            }
            "order.placed" => {
                let e: OrderPlaced = event.data_as()?;
                Ok((e.user_id, Trigger::OrderConfirmation { order_id: e.order_id, model: e.model }))
            }
            "package.delivered" => {
                let e: PackageDelivered = event.data_as()?;
                Ok((e.user_id, Trigger::Delivered { order_id: e.order_id, tracking_number: e.tracking_number }))
            }
            _ => Err(TriggerError::Unsupported(event.event_type.clone())),
        }
    }

    pub fn template(&self) -> &'static str {
        match self {
            Trigger::Welcome => "welcome",
            Trigger::OrderConfirmation { .. } => "order_confirmation",
            Trigger::Delivered { .. } => "delivered",
        }
    }

    /// The mail for `contact`, as the provider takes it.
    pub fn letter(&self, contact: &Contact) -> Letter {
        let name = &contact.name;
        let (subject, body) = match self {
            Trigger::Welcome => (
                format!("Welcome to fare, {name}"),
                format!("Hello {name},\n\nyour fare account is ready. Welcome aboard!\n"),
            ),
            Trigger::OrderConfirmation { order_id, model } => (
                format!("Your order {order_id} is confirmed"),
                format!("Hello {name},\n\nwe have your order {order_id} for a {model} and will ship it soon.\n"),
            ),
            Trigger::Delivered { order_id, tracking_number } => (
                format!("Your order {order_id} has been delivered"),
                format!(
                    "Hello {name},\n\nyour order {order_id} (tracking number {tracking_number}) has been delivered.\n"
                ),
            ),
        };
        Letter { to: contact.email.clone(), subject, body, template: self.template() }
    }
}

/// The provider's `POST /messages` body.
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    pub to: Email,
    pub subject: String,
    pub body: String,
    pub template: &'static str,
}

#[cfg(test)]
mod tests {
    use kit::CorrelationId;
    use serde_json::json;

    use super::*;

    fn event(event_type: &str, data: serde_json::Value) -> Envelope {
        Envelope::new("test", EventType::parse(event_type).unwrap(), CorrelationId::generate(), None, &data).unwrap()
    }

    #[test]
    fn each_trigger_has_its_template_and_subject() {
        let contact = Contact {
            user_id: UserId::parse("u-1").unwrap(),
            email: Email::parse("ada@example.com").unwrap(),
            name: "Ada".into(),
        };
        let cases = [
            (event("user.registered", json!({"user_id": "u-1"})), "welcome", "Welcome to fare, Ada"),
            (
                event("order.placed", json!({"user_id": "u-1", "order_id": "o-1", "model": "phone-pro"})),
                "order_confirmation",
                "Your order o-1 is confirmed",
            ),
            (
                event("package.delivered", json!({"user_id": "u-1", "order_id": "o-1", "tracking_number": "T1"})),
                "delivered",
                "Your order o-1 has been delivered",
            ),
        ];
        for (event, template, subject) in cases {
            let (user, trigger) = Trigger::from_event(&event).unwrap();
            assert_eq!(user.as_str(), "u-1");
            let letter = trigger.letter(&contact);
            assert_eq!((letter.template, letter.subject.as_str()), (template, subject));
            assert_eq!(letter.to.as_str(), "ada@example.com");
        }
    }

    #[test]
    fn other_events_and_bad_data_are_refused() {
        let refused = Trigger::from_event(&event("invoice.issued", json!({"user_id": "u-1"}))).unwrap_err();
        assert!(matches!(refused, TriggerError::Unsupported(_)), "{refused}");
        let bad =
            Trigger::from_event(&event("order.placed", json!({"user_id": "../x", "order_id": "o", "model": "m"})));
        assert!(matches!(bad, Err(TriggerError::Data(_))));
    }
}
