//! The mails table.

use rusqlite::{Connection, Transaction};
use serde::Serialize;

/// A mail the provider accepted, as it is recorded.
#[derive(Debug, Clone, Serialize)]
pub struct NewMail {
    pub mail_id: String,
    pub user_id: String,
    pub to: String,
    pub template: String,
    pub subject: String,
    pub trigger_event_id: String,
    pub trigger_event_type: String,
    pub provider_message_id: String,
}

/// A recorded mail, with the time the database recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Mail {
    #[serde(flatten)]
    pub mail: NewMail,
    pub sent_at: String,
}

/// Records `mail` unless its user already has one for its triggering event;
/// `true` if recorded.
pub fn insert(tx: &Transaction<'_>, mail: &NewMail) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO mails
         (mail_id, user_id, to_address, template, subject, trigger_event_id, trigger_event_type, provider_message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            mail.mail_id,
            mail.user_id,
            mail.to,
            mail.template,
            mail.subject,
            mail.trigger_event_id,
            mail.trigger_event_type,
            mail.provider_message_id,
        ],
    )?;
    Ok(n == 1)
}

/// The mails sent to `user_id`, oldest first.
pub fn by_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<Mail>> {
    let mut stmt = conn.prepare_cached(
        "SELECT mail_id, user_id, to_address, template, subject, trigger_event_id, trigger_event_type,
                provider_message_id, sent_at
         FROM mails WHERE user_id = ?1 ORDER BY sent_at, rowid",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        let mail = NewMail {
            mail_id: r.get(0)?,
            user_id: r.get(1)?,
            to: r.get(2)?,
            template: r.get(3)?,
            subject: r.get(4)?,
            trigger_event_id: r.get(5)?,
            trigger_event_type: r.get(6)?,
            provider_message_id: r.get(7)?,
        };
        Ok(Mail { mail, sent_at: r.get(8)? })
    })?;
    rows.collect()
}
