//! mailer's provider states for contract verification (see
//! [`kit::states`]): the mails a consumer's pact takes for granted. No
//! address is written: a state's mail goes to a placeholder.

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
