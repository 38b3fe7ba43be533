//! invoice's provider states for contract verification (see
//! [`kit::states`]): the invoices a consumer's pact takes for granted.

use kit::Envelope;
use kit::messages::{self, ProviderMessage, SampleError};
use kit::states::{ProviderState, StateError, Values};
use rusqlite::Transaction;

/// Every state invoice knows; documented in `services/CATALOG.md`.
pub const STATES: &[ProviderState] = &[
    ProviderState {
        template: "order O of user U was invoiced A cents",
        params: &["order_id", "user_id", "amount_cents"],
        apply: invoiced,
    },
    ProviderState { template: "no invoice was issued", params: &[], apply: none },
];

fn invoiced(tx: &Transaction<'_>, values: &Values) -> Result<(), StateError> {
    let order_id = values.get("order_id");
    let amount: i64 = values.parse("amount_cents", "a whole number of cents")?;
    tx.execute("DELETE FROM invoices WHERE order_id = ?1", [order_id])?;
    tx.execute(
        "INSERT INTO invoices (id, order_id, user_id, amount_cents, currency, issued_at)
         VALUES (?1, ?2, ?3, ?4, 'EUR', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        rusqlite::params![format!("inv-{order_id}"), order_id, values.get("user_id"), amount],
    )?;
    Ok(())
}

fn none(tx: &Transaction<'_>, _: &Values) -> Result<(), StateError> {
    tx.execute("DELETE FROM invoices", [])?;
    Ok(())
}

/// Every event invoice publishes, as its builders make it ([`kit::messages`]).
pub const MESSAGES: &[ProviderMessage] = &[ProviderMessage { event: "invoice.issued", sample: invoice_issued }];

fn invoice_issued() -> Result<Envelope, SampleError> {
    let data = serde_json::json!({
        "order_id": "o-1", "user_id": "u-1", "model": "phone-basic", "price_cents": 19900, "currency": "EUR"
    });
    let order = messages::cause("store", "order.placed", data)?;
    let invoice = crate::events::invoice_for(&order, "i-1".into())?;
    Ok(crate::events::invoice_issued(&order, &invoice)?)
}

// Every state is in services/CATALOG.md and every sample builds.
kit::provider_checks!(crate::NAME, STATES, MESSAGES, "../../CATALOG.md");
