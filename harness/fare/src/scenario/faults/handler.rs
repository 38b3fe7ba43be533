//! Handler faults: rules on a service's fault hook (`kit::faults`), each
//! scoped to one chain of a scenario run, set before the first step and
//! cleared once the verdict is in. Scenarios running side by side share
//! the hooks, so each adds and takes away only its own rules.

use kit::EventType;
use kit::faults::{FaultAction, FaultRule, FaultRules};
use tokio::sync::Mutex;

use super::FaultError;
use crate::runtime::Platform;
use crate::scenario::target::Target;
use crate::trace::{Asked, FaultKind, InjectedFault};

/// Adds a handler fault to `service`'s fault hook: `action` on `on`, in
/// the chain `correlation_id` and the chains under it. The rules other
/// scenarios running now have set stay; the most narrowly scoped rule
/// comes first, as the first rule that matches decides. Returns what it
/// did, and the fault as recorded: open, until the rules are cleared.
pub async fn handler(
    target: &Target,
    control: Option<&Mutex<&mut Platform>>,
    service: &str,
    on: &EventType,
    action: &FaultAction,
    correlation_id: &str,
) -> Result<(String, InjectedFault), FaultError> {
    let Some(control) = control else { return Err(FaultError::NoHook { service: service.to_owned() }) };
    let mut platform = control.lock().await;
    let scope = Some(correlation_id.to_owned());
    let rule = FaultRule { event: on.clone(), action: action.clone(), correlation_id: scope };
    let rules = with_rule(platform.faults(service)?.clone(), rule);
    platform.set_faults(service, &rules).await?;
    let what = format!("had its handler {action} on {on}");
    let asked = Asked { action: Some(action.clone()), ..Asked::default() };
    let fault = InjectedFault::now(FaultKind::Handler, service, what).on(on).in_chain(correlation_id).asked(asked);
    target.record_fault(&fault).await?;
    Ok((format!("{service} will {action} on {on} in {correlation_id}"), fault))
}

/// Takes the rules of the scenario run `base` (its chains: `base` and
/// `base.<label>`) off `services`' fault hooks; the others stay.
pub async fn clear_handlers(control: &Mutex<&mut Platform>, services: &[&str], base: &str) -> Result<(), FaultError> {
    let mut platform = control.lock().await;
    for service in services {
        let rules = without_run(platform.faults(service)?.clone(), base);
        platform.set_faults(service, &rules).await?;
    }
    Ok(())
}

/// `rules` and `rule`, the most narrowly scoped first.
fn with_rule(mut rules: FaultRules, rule: FaultRule) -> FaultRules {
    rules.rules.push(rule);
    rules.rules.sort_by_key(|r| std::cmp::Reverse(r.correlation_id.as_ref().map_or(0, String::len)));
    rules
}

/// `rules` without those scoped to the chains of the run `base`.
fn without_run(mut rules: FaultRules, base: &str) -> FaultRules {
    let ours = |c: &String| c == base || c.strip_prefix(base).is_some_and(|rest| rest.starts_with('.'));
    rules.rules.retain(|r| !r.correlation_id.as_ref().is_some_and(ours));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(correlation_id: &str, action: FaultAction) -> FaultRule {
        let event = EventType::parse("order.placed").unwrap();
        FaultRule { event, action, correlation_id: Some(correlation_id.into()) }
    }

    #[test]
    fn scenarios_side_by_side_keep_each_others_rules_and_clear_their_own() {
        let mut rules = FaultRules::default();
        for r in [
            rule("e2e-a-1", FaultAction::Crash),
            rule("e2e-b-1", FaultAction::FailAlways),
            rule("e2e-a-1.other", FaultAction::DropFollowUp),
            rule("e2e-a-12", FaultAction::Crash),
        ] {
            rules = with_rule(rules, r);
        }
        let scopes = |rules: &FaultRules| -> Vec<String> {
            rules.rules.iter().map(|r| r.correlation_id.clone().unwrap_or_default()).collect()
        };
        // A labelled chain's rule comes before its main chain's, which would also match it.
        assert_eq!(scopes(&rules), ["e2e-a-1.other", "e2e-a-12", "e2e-a-1", "e2e-b-1"]);
        assert_eq!(scopes(&without_run(rules, "e2e-a-1")), ["e2e-a-12", "e2e-b-1"]);
    }
}
