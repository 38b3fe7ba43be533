//! Which scenarios can run against an environment fare did not start, and
//! why the others cannot. There, fare serves no fake (the services call
//! their own third parties, or those parties' sandboxes), holds no process
//! and no fault hook, and owns nothing but what it adds to observe. A
//! scenario that needs any of those is not applicable: reported as such,
//! never run half-way and never passed.

use std::collections::BTreeMap;
use std::fmt;

use crate::scenario::Scenario;
use crate::scenario::model::{Fault, Http, Step};

/// One reason a scenario cannot run there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApplicable {
    /// It programs these third parties' fakes.
    Fakes { fakes: Vec<String> },
    /// It asks these fakes over HTTP.
    AsksFakes { fakes: Vec<String> },
    /// Its faults act on processes, through fault hooks, or on the
    /// environment's own subscriptions (as written: `stop store`).
    Faults { faults: Vec<String> },
    /// Its steps restart these services.
    Restarts { services: Vec<String> },
    /// It asks these services, which the target file gives no URL for.
    NoUrl { services: Vec<String> },
}

impl fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotApplicable::Fakes { fakes } => write!(
                f,
                "it programs {}, which fare plays only on a platform it starts (there, the services call their own)",
                fakes.join(", ")
            ),
            NotApplicable::AsksFakes { fakes } => {
                write!(f, "it asks {}, which fare plays only on a platform it starts", fakes.join(", "))
            }
            NotApplicable::Faults { faults } => write!(
                f,
                "its faults need what fare holds only on a platform it starts (processes, fault hooks, \
                 subscriptions of its own): {}",
                faults.join(", ")
            ),
            NotApplicable::Restarts { services } => {
                write!(f, "it restarts {}, a process fare did not start", services.join(", "))
            }
            NotApplicable::NoUrl { services } => {
                write!(f, "it asks {}, which the target file gives no URL for", services.join(", "))
            }
        }
    }
}

/// Every reason `s` cannot run against an environment whose services are
/// `services` (name → URL); empty when it can. Faults that go through SNS
/// and SQS alone (`duplicate`, `poison`) can.
pub fn why_not(s: &Scenario, services: &BTreeMap<String, String>, known: &[&str]) -> Vec<NotApplicable> {
    let mut why = Vec::new();
    let fakes: Vec<String> = s.file.fakes.keys().cloned().collect();
    if !fakes.is_empty() {
        why.push(NotApplicable::Fakes { fakes });
    }
    let faults: Vec<String> = s
        .file
        .faults
        .iter()
        .filter(|f| f.signals_processes() || matches!(f, Fault::Handler { .. } | Fault::FilterOut { .. }))
        .map(Fault::to_string)
        .collect();
    if !faults.is_empty() {
        why.push(NotApplicable::Faults { faults });
    }
    let restarts: Vec<String> = s
        .file
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Restart(r) => Some(r.service.clone()),
            _ => None,
        })
        .collect();
    if !restarts.is_empty() {
        why.push(NotApplicable::Restarts { services: dedup(restarts) });
    }
    let asked = s.file.steps.iter().filter_map(|step| match step {
        Step::Http(h) => Some(&**h),
        _ => None,
    });
    let asked: Vec<&str> = asked.chain(&s.file.expect.http).map(|h: &Http| h.http.target.as_str()).collect();
    let (services_asked, fakes_asked): (Vec<&str>, Vec<&str>) = asked.into_iter().partition(|t| known.contains(t));
    let no_url: Vec<String> =
        services_asked.into_iter().filter(|t| !services.contains_key(*t)).map(str::to_owned).collect();
    if !fakes_asked.is_empty() {
        why.push(NotApplicable::AsksFakes { fakes: dedup(fakes_asked.into_iter().map(str::to_owned).collect()) });
    }
    if !no_url.is_empty() {
        why.push(NotApplicable::NoUrl { services: dedup(no_url) });
    }
    why
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names
}

/// The reasons as one sentence, for a report.
pub fn sentence(why: &[NotApplicable]) -> String {
    why.iter().map(NotApplicable::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// Each scenario of the project, as an environment with every service
    /// at a URL sees it: those that program fakes, stop services, restart
    /// them, and the rest, which run.
    #[test]
    fn the_projects_scenarios_run_there_unless_they_need_fakes_or_processes() {
        let (topology, _) = crate::load_topology(&root().join("services")).unwrap();
        let scenarios = crate::scenario::load_dir(&root().join("scenarios"), &[], &topology).unwrap();
        let known: Vec<&str> = topology.services().map(|m| m.name.as_str()).collect();
        let everywhere: BTreeMap<String, String> =
            known.iter().map(|n| ((*n).to_owned(), format!("http://{n}.example"))).collect();
        let mut verdicts: Vec<(String, String)> = scenarios
            .iter()
            .map(|s| {
                let why = why_not(s, &everywhere, &known);
                let kinds: Vec<&str> = why
                    .iter()
                    .map(|w| match w {
                        NotApplicable::Fakes { .. } => "fakes",
                        NotApplicable::AsksFakes { .. } => "asks fakes",
                        NotApplicable::Faults { .. } => "faults",
                        NotApplicable::Restarts { .. } => "restarts",
                        NotApplicable::NoUrl { .. } => "no url",
                    })
                    .collect();
                (s.name.clone(), if kinds.is_empty() { "runs".into() } else { kinds.join("+") })
            })
            .collect();
        verdicts.sort();
        let verdicts: Vec<(&str, &str)> = verdicts.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            verdicts,
            [
                ("duplicate-delivery", "runs"),
                ("fulfillment-down", "fakes"),
                ("fulfillment-recovers", "fakes"),
                ("interleaved-orders", "runs"),
                ("loyalty-points", "runs"),
                ("mail-provider-down", "fakes"),
                ("order-delivered", "runs"),
                ("out-of-stock", "runs"),
                ("poison-message", "runs"),
                ("registration-welcome", "runs"),
                ("session-refused", "restarts"),
                ("slow-carrier", "fakes"),
                ("store-restarted", "faults"),
            ]
        );
        let store_restarted = scenarios.iter().find(|s| s.name == "store-restarted").unwrap();
        assert_eq!(
            sentence(&why_not(store_restarted, &everywhere, &known)),
            "its faults need what fare holds only on a platform it starts (processes, fault hooks, \
             subscriptions of its own): stop store"
        );
        // Without loyalty's URL, the scenario that asks it cannot run.
        let mut no_loyalty = everywhere.clone();
        no_loyalty.remove("loyalty");
        let loyalty = scenarios.iter().find(|s| s.name == "loyalty-points").unwrap();
        assert_eq!(why_not(loyalty, &no_loyalty, &known), [NotApplicable::NoUrl { services: vec!["loyalty".into()] }]);
    }

    #[test]
    fn handler_faults_filters_and_fakes_asked_are_named() {
        let (topology, _) = crate::load_topology(&root().join("services")).unwrap();
        let text = "description: d\nfaults:\n  - {handler: fulfillment, on: device.allocated, do: fail}\n  \
                    - {filter_out: invoice, on: order.placed}\n  - {poison: invoice, body: x}\n\
                    steps:\n  - {http: GET carrier /tracking/x}\n";
        let s = crate::scenario::parse(Path::new("x.yaml"), text).unwrap();
        crate::scenario::load::check(&s, &topology).unwrap();
        let known: Vec<&str> = topology.services().map(|m| m.name.as_str()).collect();
        let why = why_not(&s, &BTreeMap::new(), &known);
        assert_eq!(
            why,
            [
                NotApplicable::Faults {
                    faults: vec![
                        "handler fulfillment on device.allocated".into(),
                        "filter order.placed out of invoice".into()
                    ]
                },
                NotApplicable::AsksFakes { fakes: vec!["carrier".into()] },
            ]
        );
    }
}
