//! What can be wrong with a workload, each at its field and line: a
//! variable used before anything sets it, a service or event the platform
//! does not have.

use super::model::{BUILT_IN, ORDER_BUILT_IN, Per, WorkloadFile};
use crate::scenario::ScenarioError;
use crate::scenario::model::Http;
use crate::scenario::template::names;
use crate::topology::Topology;

/// A problem at a field of the file, located in it by a needle.
pub(super) type Locate<'a> = dyn Fn(String, &str, String) -> ScenarioError + 'a;

/// The variables set so far, as the requests run.
#[derive(Clone)]
struct Known(Vec<String>);

impl Known {
    fn with(&self, more: impl IntoIterator<Item = String>) -> Known {
        Known(self.0.iter().cloned().chain(more).collect())
    }

    /// Every variable `h` (at `field`) uses that is not yet set.
    fn check(&self, at: &Locate, field: &str, h: &Http, problems: &mut Vec<ScenarioError>) {
        for name in h.uses() {
            if !self.0.contains(&name) {
                let hint = kit::suggest::did_you_mean(&name, self.0.iter().map(String::as_str));
                let message = format!("`{{{{{name}}}}}` is not set here{hint} (set: {})", self.0.join(", "));
                problems.push(at(field.to_owned(), &format!("{{{{{name}}}}}"), message));
            }
        }
    }
}

fn invalid(at: &Locate, field: impl Into<String>, needle: &str, message: impl Into<String>) -> ScenarioError {
    at(field.into(), needle, message.into())
}

fn captures(h: &Http) -> impl Iterator<Item = String> + '_ {
    h.capture.keys().cloned()
}

/// Each request uses only variables set before it: the built-ins and
/// `vars`; for a user's steps, what the steps before captured; for an
/// order, the user's and what `place` captured; for an effect, those of
/// whom it counts and what the effects before it captured.
pub(super) fn variables(f: &WorkloadFile, at: &Locate) -> Result<(), ScenarioError> {
    let mut problems = Vec::new();
    let base = Known(BUILT_IN.iter().map(|s| s.to_string()).chain(f.vars.keys().cloned()).collect());
    for (name, value) in &f.vars {
        for used in names(value) {
            if !BUILT_IN.contains(&used.as_str()) {
                let message = format!("`{{{{{used}}}}}`: a variable may use only {}", BUILT_IN.join(", "));
                problems.push(invalid(at, format!("vars.{name}"), name, message));
            }
        }
    }
    for (name, value) in f.env.iter().chain(&f.bench.env) {
        if names(value).iter().any(|n| n != "orders") {
            problems.push(invalid(at, format!("env.{name}"), name, "a setting may use only `{{orders}}`"));
        }
    }
    let mut user = base.clone();
    for (i, step) in f.user.iter().enumerate() {
        user.check(at, &format!("user[{i}]"), step, &mut problems);
        user = user.with(captures(step));
    }
    user.with([ORDER_BUILT_IN.to_owned()]).check(at, "order.place", &f.order.place, &mut problems);
    if !f.order.place.capture.contains_key(&f.order.id) {
        let message = format!("`place` must capture the order's id as `{}` (order.id)", f.order.id);
        problems.push(invalid(at, "order.place.capture", "place", message));
    }
    if let Some(list) = &f.order.list {
        user.check(at, "order.list", list, &mut problems);
    }
    if f.order.done.is_some() && f.order.list.is_none() {
        problems.push(invalid(at, "order.done", "done", "`done` is read from the orders `list` answers: give `list`"));
    }
    if let Some(flood) = &f.flood {
        user.check(at, "flood", flood, &mut problems);
    }
    let mut per_user = user.clone();
    let mut per_order = user.with(captures(&f.order.place));
    let mut per_load = base;
    for (i, e) in f.effects.iter().enumerate() {
        let known = match e.per {
            Per::Order => &mut per_order,
            Per::User => &mut per_user,
            Per::Load => &mut per_load,
        };
        known.check(at, &format!("effects[{i}].read"), &e.read, &mut problems);
        *known = known.with(captures(&e.read));
        if e.per == Per::User {
            // What a user's effect captured is the user's, for the orders' effects after it.
            per_order = per_order.with(captures(&e.read));
        }
    }
    ScenarioError::all(problems)
}

/// What only the platform can tell: do the services its requests go to,
/// and the end of an order's chain, exist.
pub(super) fn against(f: &WorkloadFile, topology: &Topology, at: &Locate) -> Result<(), ScenarioError> {
    let fakes = crate::fakes::names(topology.services());
    let known: Vec<&str> =
        topology.services().map(|m| m.name.as_str()).chain(fakes.iter().map(String::as_str)).collect();
    let mut problems = Vec::new();
    let mut service = |field: String, name: &str| {
        if !known.contains(&name) {
            let hint = kit::suggest::did_you_mean(name, known.iter().copied());
            let message = format!("no service `{name}`{hint} (services and fakes: {})", known.join(", "));
            problems.push(invalid(at, field, name, message));
        }
    };
    let requests = f.user.iter().enumerate().map(|(i, h)| (format!("user[{i}].http"), h));
    let order = [("order.place.http".to_owned(), &f.order.place)].into_iter();
    let list = f.order.list.iter().map(|h| ("order.list.http".to_owned(), h));
    let flood = f.flood.iter().map(|h| ("flood.http".to_owned(), h));
    let effects = f.effects.iter().enumerate().map(|(i, e)| (format!("effects[{i}].read.http"), &e.read));
    for (field, h) in requests.chain(order).chain(list).chain(flood).chain(effects) {
        service(field, &h.http.target);
    }
    if let Some(end) = &f.order.end {
        service("order.end.service".into(), &end.service);
        let events = topology.events();
        if !events.contains(&end.event) {
            let message = format!("no service publishes or hears `{}`", end.event);
            problems.push(invalid(at, "order.end.event", end.event.as_str(), message));
        } else if topology.service(&end.service).is_some_and(|m| !m.listens.iter().any(|l| l.event == end.event)) {
            let message = format!("{} does not listen to `{}`", end.service, end.event);
            problems.push(invalid(at, "order.end.service", &end.service, message));
        }
    }
    ScenarioError::all(problems)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::workload::Workload;
    use crate::workload::model::Count;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    const SMALL: &str = "\
user:
  - http: POST users /users
    body: {email: \"u{{user}}.{{run}}@example.com\"}
    capture: {token: token}
order:
  place: {http: POST store /orders, auth: \"{{token}}\", capture: {order_id: order_id}}
  id: order_id
effects:
  - effect: invoiced
    per: order
    read: {http: \"GET invoice /invoices?order_id={{order_id}}\", auth: \"{{token}}\"}
";

    fn error(text: &str) -> String {
        match Workload::parse(Path::new("load.yaml"), text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_reference_workload_reads_and_fits_the_reference_platform() {
        let w = Workload::read(&Workload::default_path(&root())).unwrap();
        let topology = crate::load_topology(&root().join("services")).unwrap().0;
        w.fits(&topology).unwrap();
        let per: Vec<(&str, Per)> = w.file.effects.iter().map(|e| (e.effect.as_str(), e.per)).collect();
        assert_eq!(per.len(), 8, "{per:?}");
        assert!(per.contains(&("welcome mail", Per::User)) && per.contains(&("device allocated", Per::Load)));
        assert_eq!(w.file.order.end.as_ref().map(|e| e.service.as_str()), Some("store"));
        let env = w.platform_env(Default::default(), 70, false).unwrap();
        assert_eq!(env.get("DEVICES_STOCK").map(String::as_str), Some("phone-basic=70,phone-pro=200"));
        assert!(!w.platform_env(Default::default(), 1, false).unwrap().contains_key("TRACKING_POLL_INTERVAL_MS"));
        assert!(w.platform_env(Default::default(), 1, true).unwrap().contains_key("TRACKING_POLL_INTERVAL_MS"));
    }

    #[test]
    fn a_small_workload_of_another_platform_reads() {
        let w = Workload::parse(Path::new("load.yaml"), SMALL).unwrap();
        assert_eq!(w.file.effects[0].count, Count::Length);
        assert!(w.file.order.list.is_none() && w.file.order.done.is_none());
    }

    #[test]
    fn a_variable_used_before_it_is_set_is_named_at_its_line() {
        let e = error(&SMALL.replace("{{token}}\", capture", "{{tokn}}\", capture"));
        assert!(e.starts_with("load.yaml:6:44: order.place: `{{tokn}}` is not set here; did you mean `token`?"), "{e}");
        // What an order captured is not the user's: a user's effect cannot use it.
        let e = error(&SMALL.replace("per: order", "per: user"));
        assert!(e.contains("effects[0].read: `{{order_id}}` is not set here"), "{e}");
    }

    #[test]
    fn an_order_that_captures_no_id_and_a_rule_of_no_kind_are_refused() {
        let e = error(&SMALL.replace("capture: {order_id: order_id}", "capture: {id: order_id}"));
        assert!(e.contains("order.place.capture: `place` must capture the order's id as `order_id`"), "{e}");
        let e = error(&format!("{SMALL}    count: lenght\n"));
        assert!(e.contains("effects[0].count") || e.contains("effects[0]"), "{e}");
        let e = error(&format!("{SMALL}    count: {{sum: allocated, match: {{a: 1}}}}\n"));
        assert!(e.contains("effects"), "{e}");
        let e = error(&SMALL.replace("per: order", "per: each"));
        assert!(e.contains("effects[0].per") && e.contains("unknown variant `each`"), "{e}");
    }

    #[test]
    fn a_service_the_platform_does_not_have_is_named() {
        let topology = crate::load_topology(&root().join("services")).unwrap().0;
        let w = Workload::parse(Path::new("load.yaml"), &SMALL.replace("GET invoice", "GET invoices")).unwrap();
        let e = w.fits(&topology).unwrap_err().to_string();
        assert!(
            e.starts_with("load.yaml:11:23: effects[0].read.http: no service `invoices`; did you mean `invoice`?"),
            "{e}"
        );
    }
}
