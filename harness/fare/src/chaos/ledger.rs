//! The ledger of effects after a load: for every order the store accepted,
//! what each service says it did, read from the services' own APIs (not
//! from the events, which may be duplicated on purpose by SNS/SQS). Each
//! effect must be there exactly once per order (per user for the welcome
//! mail): a missing one is lost, a second one is doubled. Each read
//! presents the session of the user whose data it is, as the services ask.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::call::CallError;
use crate::scenario::Target;

/// An order the store accepted.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Placed {
    pub order_id: String,
    pub user_id: String,
}

/// One effect, counted.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Row {
    pub effect: &'static str,
    /// Read from this service's API.
    pub service: &'static str,
    pub expected: usize,
    pub found: usize,
    /// Orders (or users) without it.
    pub lost: Vec<String>,
    /// Orders (or users) with it more than once.
    pub doubled: Vec<String>,
    /// Reads that failed: the count is then not to be trusted.
    pub unread: Vec<String>,
}

impl Row {
    fn new(effect: &'static str, service: &'static str, expected: usize) -> Row {
        Row { effect, service, expected, found: 0, lost: Vec::new(), doubled: Vec::new(), unread: Vec::new() }
    }

    /// Counts `n` of the effect for `whom`, where one is right.
    fn count(&mut self, whom: &str, n: usize) {
        self.found += n;
        match n {
            0 => self.lost.push(whom.to_owned()),
            1 => {}
            _ => self.doubled.push(whom.to_owned()),
        }
    }

    pub fn holds(&self) -> bool {
        self.found == self.expected && self.lost.is_empty() && self.doubled.is_empty() && self.unread.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Ledger {
    pub rows: Vec<Row>,
}

impl Ledger {
    pub fn holds(&self) -> bool {
        self.rows.iter().all(Row::holds)
    }
}

/// Devices allocated so far (every model), `None` if unreadable.
pub async fn allocated(target: &Target) -> Option<u64> {
    // The whole inventory is for operators.
    let inventory = get(target, "devices", "/inventory".into(), target.operator.as_deref()).await.ok()?;
    Some(inventory.as_array()?.iter().filter_map(|m| m["allocated"].as_u64()).sum())
}

async fn get(target: &Target, service: &str, path: String, token: Option<&str>) -> Result<Value, CallError> {
    let base = target.services.get(service).ok_or_else(|| CallError::NoService(service.to_owned()))?;
    let mut request = target.http.get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await?;
    if !answer.status().is_success() {
        return Err(CallError::Answered { request: format!("GET {service} {path}"), status: answer.status() });
    }
    Ok(answer.json().await?)
}

fn length(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// A signed-up user of the load, whose token reads what is theirs.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    token: String,
}

impl User {
    pub fn new(user_id: String, token: String) -> User {
        User { user_id, token }
    }

    pub fn token(&self) -> &str {
        &self.token
    }
}

/// Reads every effect of `placed` (by `users`) from the services.
/// `allocated_before` is the devices' count before the load.
pub async fn read(target: &Target, users: &[User], placed: &[Placed], allocated_before: Option<u64>) -> Ledger {
    let n = placed.len();
    let mut invoices = Row::new("invoice issued", "invoice", n);
    let mut shipments = Row::new("shipment requested", "fulfillment", n);
    let mut parcels = Row::new("parcel delivered", "tracking", n);
    let mut delivered = Row::new("order delivered", "store", n);
    // One at a time per order, but every order at once: the reads are cheap.
    let reads = futures_util::future::join_all(placed.iter().map(|p| order_effects(target, users, p))).await;
    for (p, r) in placed.iter().zip(reads) {
        let id = p.order_id.as_str();
        match r.invoices {
            Ok(k) => invoices.count(id, k),
            Err(e) => invoices.unread.push(format!("{id}: {e}")),
        }
        match &r.shipments {
            Ok(s) => shipments.count(id, s.len()),
            Err(e) => shipments.unread.push(format!("{id}: {e}")),
        }
        match r.parcel {
            Ok(k) => parcels.count(id, k),
            Err(e) => parcels.unread.push(format!("{id}: {e}")),
        }
        match r.status {
            Ok(status) => delivered.count(&format!("{id} ({status})"), usize::from(status == "delivered")),
            Err(e) => delivered.unread.push(format!("{id}: {e}")),
        }
    }
    let mut allocations = Row::new("device allocated", "devices", n);
    match (allocated_before, allocated(target).await) {
        (Some(before), Some(after)) => {
            allocations.found = (after - before.min(after)) as usize;
            if allocations.found < n {
                allocations.lost.push(format!("{} fewer than orders", n - allocations.found));
            } else if allocations.found > n {
                allocations.doubled.push(format!("{} more than orders", allocations.found - n));
            }
        }
        _ => allocations.unread.push("GET devices /inventory".into()),
    }
    let mut rows = vec![allocations, invoices, shipments, parcels, delivered];
    rows.extend(mails(target, users, placed).await);
    Ledger { rows }
}

struct OrderEffects {
    invoices: Result<usize, CallError>,
    shipments: Result<Vec<Value>, CallError>,
    /// Parcels of its shipment the carrier delivered, as tracking says.
    parcel: Result<usize, CallError>,
    status: Result<String, CallError>,
}

async fn order_effects(target: &Target, users: &[User], p: &Placed) -> OrderEffects {
    let id = &p.order_id;
    let token = users.iter().find(|u| u.user_id == p.user_id).map(User::token);
    let (invoices, shipments, order) = tokio::join!(
        get(target, "invoice", format!("/invoices?order_id={id}"), token),
        get(target, "fulfillment", format!("/shipments?order_id={id}"), token),
        get(target, "store", format!("/orders/{id}"), token),
    );
    let shipments = shipments.map(|s| s.as_array().cloned().unwrap_or_default());
    let parcel = match &shipments {
        Ok(s) => match s.first().and_then(|s| s["tracking_number"].as_str()) {
            Some(tn) => get(target, "tracking", format!("/shipments/{tn}"), token)
                .await
                .map(|t| usize::from(t["status"].as_str() == Some("delivered"))),
            None => Ok(0),
        },
        Err(e) => Err(e.clone()),
    };
    OrderEffects {
        invoices: invoices.map(|v| length(&v)),
        shipments,
        parcel,
        status: order.map(|o| o["status"].as_str().unwrap_or("?").to_owned()),
    }
}

/// The mails of each user, by template: one welcome per user, one
/// confirmation and one delivery mail per order.
async fn mails(target: &Target, users: &[User], placed: &[Placed]) -> Vec<Row> {
    let mut welcome = Row::new("welcome mail", "mailer", users.len());
    let mut confirmed = Row::new("order confirmation mail", "mailer", placed.len());
    let mut shipped = Row::new("delivery mail", "mailer", placed.len());
    let reads = futures_util::future::join_all(
        users.iter().map(|u| get(target, "mailer", format!("/mails?user_id={}", u.user_id), Some(u.token()))),
    )
    .await;
    for (user, read) in users.iter().zip(reads) {
        let mails = match read {
            Ok(m) => m.as_array().cloned().unwrap_or_default(),
            Err(e) => {
                for row in [&mut welcome, &mut confirmed, &mut shipped] {
                    row.unread.push(format!("{}: {e}", user.user_id));
                }
                continue;
            }
        };
        // Each mail names its order in its subject; the welcome names none.
        let mut by: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for m in &mails {
            let template = m["template"].as_str().unwrap_or("?");
            let subject = m["subject"].as_str().unwrap_or_default();
            let order = placed
                .iter()
                .filter(|p| p.user_id == user.user_id)
                .find(|p| subject.contains(&p.order_id))
                .map(|p| p.order_id.clone())
                .unwrap_or_default();
            *by.entry((template, order)).or_default() += 1;
        }
        welcome.count(&user.user_id, by.get(&("welcome", String::new())).copied().unwrap_or(0));
        for p in placed.iter().filter(|p| p.user_id == user.user_id) {
            let of = |t: &'static str| by.get(&(t, p.order_id.clone())).copied().unwrap_or(0);
            confirmed.count(&p.order_id, of("order_confirmation"));
            shipped.count(&p.order_id, of("delivered"));
        }
    }
    vec![welcome, confirmed, shipped]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_holds_only_with_each_effect_exactly_once() {
        let mut row = Row::new("invoice issued", "invoice", 3);
        for (order, n) in [("a", 1), ("b", 1), ("c", 1)] {
            row.count(order, n);
        }
        assert!(row.holds());
        let mut lost = Row::new("invoice issued", "invoice", 3);
        for (order, n) in [("a", 1), ("b", 0), ("c", 2)] {
            lost.count(order, n);
        }
        // As many as expected in all, yet one lost and one doubled.
        assert_eq!(lost.found, 3);
        assert_eq!((lost.lost.as_slice(), lost.doubled.as_slice()), (&["b".to_owned()][..], &["c".to_owned()][..]));
        assert!(!lost.holds());
        let mut unread = Row::new("welcome mail", "mailer", 0);
        unread.unread.push("u-1: connection refused".into());
        assert!(!unread.holds(), "a count that could not be read is not a count");
    }
}
