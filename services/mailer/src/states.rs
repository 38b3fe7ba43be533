//! mailer's provider states for contract verification (see
//! [`kit::states`]): the mails a consumer's pact takes for granted. No
//! address is written: a state's mail goes to a placeholder.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

/// Every state mailer knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[
    ProviderState { template: "user U was sent a T mail", params: &["user_id", "template"], apply: sent },
    ProviderState { template: "no mail was sent", params: &[], apply: none },
];

fn sent(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let (user_id, template) = (values.get("user_id"), values.get("template"));
    let trigger = format!("{user_id}:{template}");
    tx.execute(
        "INSERT INTO mails (mail_id, user_id, to_address, template, subject, trigger_event_id, trigger_event_type,
                            provider_message_id)
         VALUES (?1, ?2, 'user@example.invalid', ?3, ?3, ?1, 'user.registered', ?1)
         ON CONFLICT DO NOTHING",
        [&trigger, user_id, template],
    )?;
    Ok(())
}

fn none(tx: &Transaction<'_>, _: &Values) -> Result<(), StateError> {
    tx.execute("DELETE FROM mails", [])?;
    Ok(())
}

/// Every event mailer publishes, as its builder makes it ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[ProviderMessage { event: "mail.sent", sample: mail_sent }];

fn mail_sent() -> Result<Envelope, SampleError> {
    let registered = messages::cause("users", "user.registered", serde_json::json!({"user_id": "u-1"}))?;
    let trigger_event_id = registered.id.to_string();
    let data = crate::events::MailSent {
        mail_id: "m-1",
        user_id: "u-1",
        template: "welcome",
        trigger_event_id: &trigger_event_id,
        trigger_event_type: registered.event_type.as_str(),
        provider_message_id: "msg-1",
    };
    Ok(crate::events::mail_sent(&registered, &data)?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
