//! The ledger of effects after a load: for every order the platform
//! accepted (and every user), what the services say they did, read from
//! their own APIs by the workload's `effects` (not from the events, which
//! may be duplicated on purpose by SNS/SQS). Each effect must be there
//! exactly once: a missing one is lost, a second one is doubled.

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::client::{Client, Order, User, what};
use super::model::{Count, Effect, Per};
use crate::scenario::failure::Failure;
use crate::scenario::http;
use crate::scenario::template::{TemplateError, Vars, pick, subset};

/// Reads of one kind in flight at once.
const IN_FLIGHT: usize = 16;

/// One effect, counted.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Row {
    pub effect: String,
    /// Read from this service's API.
    pub service: String,
    pub per: Per,
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
    fn new(effect: &Effect, expected: usize) -> Row {
        Row {
            effect: effect.effect.clone(),
            service: effect.read.http.target.clone(),
            per: effect.per,
            expected,
            found: 0,
            lost: Vec::new(),
            doubled: Vec::new(),
            unread: Vec::new(),
        }
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

    /// What one read of `whom` came to.
    fn add(&mut self, whom: &str, read: Read) {
        match read {
            Read::Counted(n) => self.count(whom, n),
            Read::Unset(name) => self.lost.push(format!("{whom} (no `{name}`: an effect before it found none)")),
            Read::Failed(e) => self.unread.push(format!("{whom}: {e}")),
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

/// What one read of an effect came to.
#[derive(Debug, Clone)]
enum Read {
    Counted(usize),
    /// A variable an earlier effect would have captured is not there:
    /// that effect found nothing, so neither can this one.
    Unset(String),
    Failed(String),
}

/// Reads `effect` with `vars` in chain `correlation_id` and counts it;
/// its captures go into `vars` for the effects after it.
async fn read(client: &Client<'_>, effect: &Effect, vars: &mut Vars, correlation_id: &str) -> Read {
    let answer = match http::ask(client.target, vars, &effect.read, correlation_id).await {
        Ok(answer) => answer,
        Err(Failure::Template { error: TemplateError::Unset { name, .. } }) => return Read::Unset(name),
        Err(failure) => return Read::Failed(format!("{}: {failure}", what(&effect.read))),
    };
    let counted = answer.json.as_ref().ok_or("the answer is not JSON".to_owned()).and_then(|json| {
        let within = match &effect.within {
            Some(path) => pick(json, path).ok_or_else(|| format!("no `{path}` in the answer"))?,
            None => json,
        };
        count(&effect.count, vars, within)
    });
    match counted {
        Ok(n) => {
            // A capture that finds nothing leaves its variable unset: the effects that need it count none.
            let _ = answer.capture(vars, &effect.read);
            Read::Counted(n)
        }
        Err(why) => Read::Failed(format!("{}: {why}", what(&effect.read))),
    }
}

/// How many of an effect `json` shows, by `rule`.
pub fn count(rule: &Count, vars: &Vars, json: &Value) -> Result<usize, String> {
    let elements = || json.as_array().ok_or_else(|| format!("expected a JSON array, got {}", kind(json)));
    Ok(match rule {
        Count::Length => elements()?.len(),
        Count::Where { fields, mentions } => {
            let fields = vars.value(fields).map_err(|e| e.to_string())?;
            let mentions = mentions.as_ref().map(|m| vars.text(m)).transpose().map_err(|e| e.to_string())?;
            elements()?
                .iter()
                .filter(|e| subset(&fields, e, "").is_ok())
                .filter(|e| mentions.as_ref().is_none_or(|m| e.to_string().contains(m.as_str())))
                .count()
        }
        Count::Match(fields) => {
            let fields = vars.value(fields).map_err(|e| e.to_string())?;
            usize::from(subset(&fields, json, "").is_ok())
        }
        Count::Sum(field) => {
            let one = |v: &Value| pick(v, field).and_then(Value::as_u64).unwrap_or(0) as usize;
            match json.as_array() {
                Some(items) => items.iter().map(one).sum(),
                None => one(json),
            }
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The counts of the load's own effects (`per: load`) before it, by effect.
#[derive(Debug, Clone, Default)]
pub struct Before(Vec<Result<usize, String>>);

/// Reads the `per: load` effects before the load.
pub async fn before(client: &Client<'_>) -> Before {
    let mut counts = Vec::new();
    for effect in client.workload.file.effects.iter().filter(|e| e.per == Per::Load) {
        counts.push(load_effect(client, effect).await);
    }
    Before(counts)
}

async fn load_effect(client: &Client<'_>, effect: &Effect) -> Result<usize, String> {
    let mut vars = client.vars(0).map_err(|e| e.to_string())?;
    match read(client, effect, &mut vars, &format!("load-{}-ledger", client.run)).await {
        Read::Counted(n) => Ok(n),
        Read::Unset(name) => Err(format!("`{name}` is not set")),
        Read::Failed(e) => Err(e),
    }
}

/// Reads every effect of `orders` (by `users`) from the services; the
/// `per: load` ones against what they were `before`.
pub async fn read_all(client: &Client<'_>, users: &[User], orders: &[Order], before: &Before) -> Ledger {
    let effects = &client.workload.file.effects;
    let of = |per: Per| effects.iter().filter(move |e| e.per == per).collect::<Vec<_>>();
    let (user_effects, order_effects) = (of(Per::User), of(Per::Order));
    let order_effects = &order_effects;
    // Users first: what their effects capture, their orders' effects may use.
    let user_reads: Vec<(Vars, Vec<Read>)> = futures_util::stream::iter(users)
        .map(|u| async {
            let mut vars = u.vars.clone();
            let mut reads = Vec::new();
            for effect in &user_effects {
                reads.push(read(client, effect, &mut vars, &u.correlation_id).await);
            }
            (vars, reads)
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let order_reads: Vec<Vec<Read>> = futures_util::stream::iter(orders)
        .map(|o| {
            let user = users.iter().position(|u| u.number == o.user);
            let mut vars = o.vars.clone();
            if let Some(captured) = user.map(|i| &user_reads[i].0) {
                vars.extend_from(captured);
            }
            async move {
                let mut reads = Vec::new();
                let cid = format!("load-{}-ledger", client.run);
                for effect in order_effects {
                    reads.push(read(client, effect, &mut vars, &cid).await);
                }
                reads
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut rows = Vec::new();
    let (mut by_user, mut by_order, mut by_load) = (0, 0, 0);
    for effect in effects {
        let row = match effect.per {
            Per::User => {
                let mut row = Row::new(effect, users.len());
                for (u, (_, reads)) in users.iter().zip(&user_reads) {
                    row.add(&u.correlation_id, reads[by_user].clone());
                }
                by_user += 1;
                row
            }
            Per::Order => {
                let mut row = Row::new(effect, orders.len());
                for (o, reads) in orders.iter().zip(&order_reads) {
                    row.add(&o.id, reads[by_order].clone());
                }
                by_order += 1;
                row
            }
            Per::Load => {
                let mut row = Row::new(effect, orders.len());
                let was = before.0.get(by_load).cloned().unwrap_or_else(|| Err("not read before the load".into()));
                by_load += 1;
                match (was, load_effect(client, effect).await) {
                    (Ok(was), Ok(now)) => {
                        row.found = now.saturating_sub(was);
                        let n = orders.len();
                        if row.found < n {
                            row.lost.push(format!("{} fewer than orders", n - row.found));
                        } else if row.found > n {
                            row.doubled.push(format!("{} more than orders", row.found - n));
                        }
                    }
                    (Err(e), _) => row.unread.push(format!("before the load: {e}")),
                    (_, Err(e)) => row.unread.push(format!("after the load: {e}")),
                }
                row
            }
        };
        rows.push(row);
    }
    Ledger { rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_rule_counts_what_it_says() {
        let mut vars = Vars::default();
        vars.set("order_id", json!("o-2"));
        let mails = json!([
            {"template": "welcome", "subject": "Welcome"},
            {"template": "order_confirmation", "subject": "Your order o-1"},
            {"template": "order_confirmation", "subject": "Your order o-2"},
            {"template": "order_confirmation", "subject": "Your order o-2 again"},
        ]);
        assert_eq!(count(&Count::Length, &vars, &mails), Ok(4));
        let confirmed = Count::Where { fields: json!({"template": "order_confirmation"}), mentions: None };
        assert_eq!(count(&confirmed, &vars, &mails), Ok(3));
        let of_order =
            Count::Where { fields: json!({"template": "order_confirmation"}), mentions: Some("{{order_id}}".into()) };
        assert_eq!(count(&of_order, &vars, &mails), Ok(2), "only the mails that name the order");
        let delivered = Count::Match(json!({"status": "delivered"}));
        assert_eq!(count(&delivered, &vars, &json!({"status": "delivered", "id": 1})), Ok(1));
        assert_eq!(count(&delivered, &vars, &json!({"status": "placed"})), Ok(0));
        let inventory = json!([{"model": "a", "allocated": 3}, {"model": "b", "allocated": 4}, {"model": "c"}]);
        assert_eq!(count(&Count::Sum("allocated".into()), &vars, &inventory), Ok(7));
        let e = count(&Count::Length, &vars, &json!({"status": "x"})).unwrap_err();
        assert_eq!(e, "expected a JSON array, got an object");
        let unset = Count::Where { fields: json!({}), mentions: Some("{{nope}}".into()) };
        assert!(count(&unset, &vars, &mails).unwrap_err().contains("`{{nope}}` is not set"));
    }

    #[test]
    fn a_row_holds_only_with_each_effect_exactly_once() {
        let effect: Effect =
            serde_norway::from_str("effect: invoice issued\nper: order\nread: {http: GET invoice /invoices}\n")
                .unwrap();
        let mut row = Row::new(&effect, 3);
        for (order, n) in [("a", 1), ("b", 1), ("c", 1)] {
            row.count(order, n);
        }
        assert!(row.holds());
        let mut lost = Row::new(&effect, 3);
        for (order, n) in [("a", 1), ("b", 0), ("c", 2)] {
            lost.count(order, n);
        }
        // As many as expected in all, yet one lost and one doubled.
        assert_eq!(lost.found, 3);
        assert_eq!((lost.lost.as_slice(), lost.doubled.as_slice()), (&["b".to_owned()][..], &["c".to_owned()][..]));
        assert!(!lost.holds());
        let mut unread = Row::new(&effect, 0);
        unread.add("u-1", Read::Failed("connection refused".into()));
        assert!(!unread.holds(), "a count that could not be read is not a count");
        let mut unset = Row::new(&effect, 1);
        unset.add("o-1", Read::Unset("tracking_number".into()));
        assert_eq!(unset.lost, ["o-1 (no `tracking_number`: an effect before it found none)"]);
    }
}
