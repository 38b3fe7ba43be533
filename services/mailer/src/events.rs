//! `user.registered`, `order.placed`, `package.delivered` → one mail to the
//! user and `mail.sent`, built here once ([`mail_sent`]) for the handler
//! and for contract verification.

use kit::bus::{HandleError, Handler};
use kit::envelope::EnvelopeError;
use kit::store::{Db, StoreError, inbox, outbox};
use kit::{Envelope, EventType};
use serde::Serialize;

use crate::mail::Trigger;
use crate::provider::{Provider, ProviderError};
use crate::store::{self, NewMail};
use crate::users::{Users, UsersError};

pub struct TriggerHandler {
    pub db: Db,
    pub users: Users,
    pub provider: Provider,
}

/// What `mail.sent` carries.
#[derive(Debug, Serialize)]
pub struct MailSent<'a> {
    pub mail_id: &'a str,
    pub user_id: &'a str,
    pub template: &'a str,
    pub trigger_event_id: &'a str,
    pub trigger_event_type: &'a str,
    pub provider_message_id: &'a str,
}

/// `mail.sent`, caused by the event `cause` the mail was about.
pub fn mail_sent(cause: &Envelope, data: &MailSent<'_>) -> Result<Envelope, EnvelopeError> {
    cause.follow(crate::NAME, EventType::parse("mail.sent").expect("a catalog event type"), data)
}

impl From<UsersError> for HandleError {
    fn from(e: UsersError) -> Self {
        match e {
            UsersError::Unknown(_) | UsersError::Refused { .. } => HandleError::reject(e),
            UsersError::Unavailable(_) | UsersError::WrongUser { .. } => HandleError::retry(e),
        }
    }
}

impl From<ProviderError> for HandleError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Refused { .. } => HandleError::reject(e),
            ProviderError::Busy { .. } | ProviderError::Unavailable(_) => HandleError::retry(e),
        }
    }
}

impl Handler for TriggerHandler {
    async fn handle(&self, event: Envelope) -> Result<(), HandleError> {
        let (user_id, trigger) = Trigger::from_event(&event).map_err(HandleError::reject)?;
        let contact = self.users.contact(&user_id, &event.correlation_id).await?;
        let letter = trigger.letter(&contact);
        // A redelivered event reaches the provider again (the mail may have
        // been accepted just before a crash); the key makes it the same mail.
        let key = format!("{user_id}:{}", event.id);
        let message_id = self.provider.send(&letter, &key, &event.correlation_id).await?;
        let mail = NewMail {
            mail_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_string(),
            to: letter.to.as_str().to_owned(),
            template: letter.template.to_owned(),
            subject: letter.subject,
            trigger_event_id: event.id.to_string(),
            trigger_event_type: event.event_type.to_string(),
            provider_message_id: message_id,
        };
        self.db
            .write(move |tx| {
                if !inbox::claim(tx, event.id)? {
                    tracing::info!("duplicate delivery; already mailed");
                    return Ok(());
                }
                if !store::insert(tx, &mail).map_err(StoreError::from)? {
                    tracing::warn!(user_id = %mail.user_id, "this user already has a mail for this event");
                    return Ok(());
                }
                let sent = MailSent {
                    mail_id: &mail.mail_id,
                    user_id: &mail.user_id,
                    template: &mail.template,
                    trigger_event_id: &mail.trigger_event_id,
                    trigger_event_type: &mail.trigger_event_type,
                    provider_message_id: &mail.provider_message_id,
                };
                outbox::stage(tx, &mail_sent(&event, &sent)?)?;
                tracing::info!(mail_id = %mail.mail_id, template = %mail.template, "mail sent");
                Ok::<_, HandleError>(())
            })
            .await
    }
}
