//! mailer: sends each user one mail per event that concerns them. Listens
//! to `user.registered` (welcome), `order.placed` (order confirmation) and
//! `package.delivered` (delivered); asks users for the address; hands the
//! mail to the mail provider; publishes `mail.sent`; answers
//! `GET /mails?user_id=` to that user, whose session it asks users to vouch
//! for.
//!
//! A mail is recorded only after the provider accepted it, so the provider
//! call is outside the transaction. The `Idempotency-Key` makes that call
//! safe to repeat when an event is redelivered; the inbox and a unique
//! (user, event) row make sure only one mail is recorded and announced.
//!
//! # Layout
//! - `domain`: the user id and the email address, the values that reach a URL or a mailbox.
//! - `mail`: which events trigger which mail, and what each mail says.
//! - `users`: asking the users service for a user's contact.
//! - `provider`: the mail provider's API.
//! - `events`: the handler for the three triggers.
//! - `routes`: the HTTP API.
//! - `store`: the mails table.
//! - `states`: mailer's provider states for contract verification (mounted by [`build_with`] only).

pub mod domain;
pub mod events;
mod mail;
pub mod provider;
mod routes;
pub mod states;
mod store;
pub mod users;

use kit::bus::Bus;
use kit::http::{ClientOptions, ServiceClient, Sessions, UserRecords};
use kit::store::{Db, Migration};
use kit::{Application, ApplicationBuilder, Config, KitError, Settings, Switches};

pub const NAME: &str = "mailer";

/// The manifest `fare` reads, embedded: the grants and operator endpoints
/// this service enforces are the ones the topology check reads.
pub const MANIFEST: &str = include_str!("../service.toml");

/// No settings beyond the kit's and the two base URLs.
pub const DEFAULTS: &[(&str, &str)] = &[];

pub const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../migrations/0001_init.sql") }];

/// Builds the service from its configuration; binds but does not run it.
pub async fn build(config: &Config) -> Result<Application, KitError> {
    build_with(config, Switches::default()).await
}

/// [`build`], with `switches` on.
pub async fn build_with(config: &Config, switches: Switches) -> Result<Application, KitError> {
    let settings = Settings::from_config(config)?;
    let users_url = config.require("USERS_URL", "the users service's base URL")?;
    let provider_url = config.require("MAIL_PROVIDER_URL", "the mail provider's base URL")?;
    let signer = kit::http::Signer::from_config(config)?;
    let users = users::Users::new(ServiceClient::new("users", users_url, ClientOptions::default())?.signed(signer));
    let provider =
        provider::Provider::new(ServiceClient::new("mail-provider", provider_url, ClientOptions::default())?);
    let sessions = Sessions::from_config(config)?;
    let db = Db::open(&settings.database_path, MIGRATIONS)?;
    let bus = Bus::connect(config).await?;
    let handler = events::TriggerHandler { db: db.clone(), users, provider };
    ApplicationBuilder::new(NAME, db.clone())
        .access(kit::http::Access::load(config, MANIFEST)?)
        .router(routes::router(UserRecords { db, sessions }))
        .provider_states(switches, states::STATES, states::MESSAGES)
        .relay(&bus)
        .consume(&bus, settings.consumer(&bus, NAME), handler)
        .bind(&settings.host, settings.port)
        .await
}
