//! The topology check: what the manifests imply about contracts, held
//! against the pact files. Each rule yields one finding per subject, passed
//! or failed with a message that names the manifest or pact to fix.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::pacts::PactFile;
use crate::manifest::Manifest;

/// The SNS message attributes the kit's publisher sets on every event
/// (`kit::bus::Publisher::publish_body`): all a filter policy can see.
pub const PUBLISHED_ATTRIBUTES: &[&str] = &["event_type", "correlation_id", "traceparent"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Every listened event has a publisher, and a pact for that listener.
    Listened,
    /// Every published event has a listener or is declared terminal.
    Published,
    /// Every pact's consumer and provider exist in the manifests.
    Parties,
    /// Every (consumer, provider) pair the manifests imply has a pact.
    Pairs,
    /// The attributes a provider publishes pass each listener's filter policy.
    Filters,
    /// Every HTTP interaction a service's pact has with another service is
    /// an endpoint the provider's manifest grants that consumer.
    Granted,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Listened => "listened",
            Rule::Published => "published",
            Rule::Parties => "parties",
            Rule::Pairs => "pairs",
            Rule::Filters => "filters",
            Rule::Granted => "granted",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: Rule,
    pub subject: String,
    /// `None` when the rule holds.
    pub failure: Option<String>,
    pub detail: String,
}

/// Every finding of every rule, in rule order.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.failure.is_none())
    }

    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.failure.is_some())
    }

    // A finding's failure is its message, kept as text: the report shows and
    // serialises it, and no caller tells one failure from another.
    fn push(&mut self, rule: Rule, subject: String, result: Result<String, String>) {
        let (failure, detail) = match result {
            Ok(detail) => (None, detail),
            Err(message) => (Some(message), String::new()),
        };
        self.findings.push(Finding { rule, subject, failure, detail });
    }
}

/// Holds `manifests` against `pacts`.
pub fn check(manifests: &[Manifest], pacts: &[PactFile]) -> CheckReport {
    let mut report = CheckReport::default();
    let pact = |consumer: &str, provider: &str| pacts.iter().find(|p| p.consumer == consumer && p.provider == provider);
    let publishers = |event: &str| -> Vec<&Manifest> {
        manifests.iter().filter(|m| m.publishes.iter().any(|e| e.as_str() == event)).collect()
    };
    for m in manifests {
        for l in &m.listens {
            let subject = format!("{} ← {}", m.name, l.event);
            let from = publishers(l.event.as_str());
            let result = if from.is_empty() {
                Err(format!("{}: listens to {} but no manifest publishes it", m.path.display(), l.event))
            } else {
                from.iter()
                    .map(|p| match pact(&m.name, &p.name) {
                        Some(file) if file.carries(l.event.as_str()) => Ok(format!("{}", file.path.display())),
                        Some(file) => Err(format!(
                            "{} has no message interaction for {}: write it in {}'s consumer test",
                            file.path.display(),
                            l.event,
                            m.name
                        )),
                        None => Err(format!("no pact {}-{}.json for {}", m.name, p.name, l.event)),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|files| files.join(", "))
            };
            report.push(Rule::Listened, subject, result);
        }
    }
    for m in manifests {
        for e in &m.publishes {
            let heard: Vec<&str> =
                manifests.iter().filter(|l| l.listens.iter().any(|x| &x.event == e)).map(|l| l.name.as_str()).collect();
            let result = match (heard.is_empty(), m.terminal.contains(e)) {
                (false, _) => Ok(format!("heard by {}", heard.join(", "))),
                (true, true) => Ok("terminal".into()),
                (true, false) => Err(format!(
                    "{}: publishes {e} but nobody listens; declare it in `terminal` if that is intended",
                    m.path.display()
                )),
            };
            report.push(Rule::Published, format!("{} → {e}", m.name), result);
        }
    }
    for p in pacts {
        let consumer = manifests.iter().find(|m| m.name == p.consumer);
        let provider_known = manifests.iter().any(|m| m.name == p.provider)
            || consumer.is_some_and(|c| c.wraps.iter().any(|w| w.third_party == p.provider));
        let result = match (consumer, provider_known) {
            (None, _) => Err(format!("{}: consumer `{}` has no manifest", p.path.display(), p.consumer)),
            (Some(_), false) => Err(format!(
                "{}: provider `{}` is neither a service nor a third party {} wraps",
                p.path.display(),
                p.provider,
                p.consumer
            )),
            (Some(_), true) => Ok(format!("{} interactions", p.interactions.len())),
        };
        report.push(Rule::Parties, format!("{} → {}", p.consumer, p.provider), result);
    }
    for m in manifests {
        let http = m.asks.iter().map(|a| &a.service).chain(m.wraps.iter().map(|w| &w.third_party));
        for provider in http {
            let result = match pact(&m.name, provider) {
                Some(file) if file.has_http() => Ok(format!("{}", file.path.display())),
                Some(file) => {
                    Err(format!("{} has no HTTP interaction, yet {} asks {provider}", file.path.display(), m.name))
                }
                None => Err(format!("{} asks {provider} but there is no pact {}-{provider}.json", m.name, m.name)),
            };
            report.push(Rule::Pairs, format!("{} → {provider} (HTTP)", m.name), result);
        }
    }
    for m in manifests {
        for l in &m.listens {
            let Some(filter) = &l.filter else { continue };
            for p in publishers(l.event.as_str()) {
                let result =
                    passes(filter, l.event.as_str()).map(|()| format!("{} attributes pass", p.name)).map_err(|why| {
                        format!(
                            "{}: the filter on {} drops what {} publishes: {why}",
                            m.path.display(),
                            l.event,
                            p.name
                        )
                    });
                report.push(Rule::Filters, format!("{} ← {} ({})", m.name, l.event, p.name), result);
            }
        }
    }
    for problem in crate::topology::access_problems(manifests) {
        let subject = problem.path.parent().and_then(|d| d.file_name()).map(|d| d.to_string_lossy().into_owned());
        let subject = format!("{} (grants)", subject.unwrap_or_default());
        report.push(
            Rule::Granted,
            subject,
            Err(format!("{}:{}: {}", problem.path.display(), problem.line, problem.message)),
        );
    }
    for p in pacts {
        let consumer_known = manifests.iter().any(|m| m.name == p.consumer);
        let Some(provider) = manifests.iter().find(|m| m.name == p.provider).filter(|_| consumer_known) else {
            continue;
        };
        for i in p.interactions.iter().filter(|i| i.http.is_some()) {
            let http = i.http.as_ref().expect("filtered on");
            let granted = provider.granted_to(&p.consumer).find(|e| e.matches(&http.method, &http.path));
            let result = granted.map(|e| format!("{e}")).ok_or_else(|| {
                format!(
                    "{}: {} {} is not granted to {} by {}: {} would refuse it (403, or 401 with no grant at all)",
                    p.path.display(),
                    http.method,
                    http.path,
                    p.consumer,
                    provider.path.display(),
                    p.provider
                )
            });
            report.push(Rule::Granted, format!("{} → {}: {}", p.consumer, p.provider, i.description), result);
        }
    }
    report.findings.sort_by_key(|f| f.rule);
    report
}

/// Why a filter policy drops what the publisher sends.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Dropped {
    /// `value` is `None` for an attribute that is set with a value not
    /// known beforehand.
    #[error("`{attribute}` = {} matches none of {conditions}", value.as_deref().unwrap_or("(its value)"))]
    NoMatch { attribute: String, value: Option<String>, conditions: Value },
    #[error("it filters on `{attribute}`, which is never set (the publisher sets {})", PUBLISHED_ATTRIBUTES.join(", "))]
    NeverSet { attribute: String },
}

/// Whether a message of `event_type`, with the attributes the publisher
/// sets, passes the SNS filter `policy`. Only `event_type`'s value is known
/// beforehand; the other attributes are present with values no policy can
/// be checked against here, so only their presence is.
pub fn passes(policy: &BTreeMap<String, Value>, event_type: &str) -> Result<(), Dropped> {
    for (attribute, conditions) in policy {
        let present = PUBLISHED_ATTRIBUTES.contains(&attribute.as_str());
        let conditions = match conditions {
            Value::Array(list) => list.clone(),
            single => vec![single.clone()],
        };
        let value = (attribute == "event_type").then_some(event_type);
        if !conditions.iter().any(|c| condition(c, present, value)) {
            let attribute = attribute.clone();
            return Err(if present {
                Dropped::NoMatch { attribute, value: value.map(str::to_owned), conditions: Value::Array(conditions) }
            } else {
                Dropped::NeverSet { attribute }
            });
        }
    }
    Ok(())
}

/// One condition of an attribute's list; `value` is `None` when present
/// but unknown, which passes any value condition.
fn condition(c: &Value, present: bool, value: Option<&str>) -> bool {
    if let Some(exists) = c.get("exists").and_then(Value::as_bool) {
        return exists == present;
    }
    if !present {
        return false;
    }
    let Some(value) = value else { return true };
    match c {
        Value::String(s) => s == value,
        Value::Object(o) => {
            if let Some(prefix) = o.get("prefix").and_then(Value::as_str) {
                value.starts_with(prefix)
            } else if let Some(not) = o.get("anything-but") {
                match not {
                    Value::Array(list) => !list.iter().any(|v| v.as_str() == Some(value)),
                    Value::String(s) => s != value,
                    _ => true,
                }
            } else {
                true
            }
        }
        _ => false,
    }
}
