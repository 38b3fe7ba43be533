//! The cells of the fault matrix, generated from the topology: every hop of
//! the order chain (an event and a service that listens to it) crossed with
//! every fault kind that makes sense there, and what each cell must show.

use std::fmt;
use std::sync::Arc;

use kit::EventType;
use serde_json::{Value, json};

use crate::runtime::Runtime;
use crate::scenario::chain;
use crate::topology::Topology;
use crate::trace::FaultKind;

use super::workload::Workload;

/// How long a `disconnect` cell keeps the service cut off.
const DISCONNECTED: u64 = 5;

/// A service its manifest calls an observer (`observer = true`: the
/// reference platform's collector) hears events and publishes nothing:
/// nothing in a chain depends on it, so a fault there cannot break a chain
/// and only repeats what the other hops show. It is left out of the hops.
fn observer(m: &crate::manifest::Manifest) -> bool {
    m.observer && m.publishes.is_empty()
}

/// One fault kind, with how it is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Kind {
    /// The handler fails twice, then recovers (kit fault hook `do: fail`).
    HandlerFails,
    /// The handler fails for good (`do: fail_always`): the event ends in the service's DLQ.
    HandlerFailsAlways,
    /// The handler succeeds without publishing its follow-up (`do: drop_follow_up`).
    DropFollowUp,
    /// The event is published twice with the same id (`duplicate: EVENT`).
    Duplicate,
    /// A message no handler can read on the service's queue (`poison: SERVICE`).
    Poison,
    /// The wrapped third party answers 503 three times, then as usual.
    ThirdParty5xxWhile,
    /// The wrapped third party answers 503 for good.
    ThirdParty5xx,
    /// The wrapped third party refuses with a 4xx.
    ThirdParty4xx,
    /// SIGKILL the service once the event is seen (`kill: SERVICE`); the supervisor restarts it.
    Kill,
    /// SIGSTOP the service once the event is seen and SIGCONT it past its
    /// queue's visibility timeout (`pause: SERVICE`): hung, not dead.
    Hung,
    /// SIGSTOP the emulator once the event is seen, SIGCONT 3 s later (`pause: emulator`).
    EmulatorPaused,
    /// Cut the service's container off the network once the event is seen,
    /// and connect it again 5 s later (`disconnect: SERVICE`; containers only).
    Disconnect,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::HandlerFails,
        Kind::HandlerFailsAlways,
        Kind::DropFollowUp,
        Kind::Duplicate,
        Kind::Poison,
        Kind::ThirdParty5xxWhile,
        Kind::ThirdParty5xx,
        Kind::ThirdParty4xx,
        Kind::Kill,
        Kind::Hung,
        Kind::EmulatorPaused,
        Kind::Disconnect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::HandlerFails => "handler-fails",
            Kind::HandlerFailsAlways => "handler-fails-always",
            Kind::DropFollowUp => "drop-follow-up",
            Kind::Duplicate => "duplicate",
            Kind::Poison => "poison",
            Kind::ThirdParty5xxWhile => "3p-5xx-while",
            Kind::ThirdParty5xx => "3p-5xx",
            Kind::ThirdParty4xx => "3p-4xx",
            Kind::Kill => "kill",
            Kind::Hung => "hung",
            Kind::EmulatorPaused => "emulator-paused",
            Kind::Disconnect => "disconnect",
        }
    }

    /// The fault it injects, as the record keeps it and the diagnosis names
    /// it; `None` for a third party's answers (programmed into its fake).
    pub fn injects(self) -> Option<FaultKind> {
        match self {
            Kind::HandlerFails | Kind::HandlerFailsAlways | Kind::DropFollowUp => Some(FaultKind::Handler),
            Kind::Duplicate => Some(FaultKind::Duplicate),
            Kind::Poison => Some(FaultKind::Poison),
            Kind::ThirdParty5xxWhile | Kind::ThirdParty5xx | Kind::ThirdParty4xx => None,
            Kind::Kill => Some(FaultKind::Kill),
            Kind::Hung | Kind::EmulatorPaused => Some(FaultKind::Pause),
            Kind::Disconnect => Some(FaultKind::Disconnect),
        }
    }

    /// Why its cells cannot run on `runtime`; `None` where they can.
    pub fn not_applicable(self, runtime: Runtime) -> Option<&'static str> {
        match (self, runtime) {
            (Kind::Disconnect, Runtime::Processes) => {
                Some("not applicable to processes: only a container can be cut off the network (--runtime containers)")
            }
            _ => None,
        }
    }

    /// The fault hits the event on its topic, not one listener of it: one
    /// cell per event is enough.
    fn per_event(self) -> bool {
        matches!(self, Kind::Duplicate | Kind::EmulatorPaused)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An event and the service that should act on it; `service` is `None`
/// for a fault on the event itself (every listener sees it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hop {
    pub event: EventType,
    pub service: Option<String>,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.event, self.service.as_deref().unwrap_or("*"))
    }
}

/// What the platform promises under a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Promise {
    /// The chain completes and every effect happens exactly once; nothing
    /// is diagnosed.
    Recovers,
    /// The poison message is in `dlq`'s dead-letter queue; the chain itself
    /// completes and nothing is diagnosed.
    Quarantined { dlq: String },
    /// The hop is broken for good: the message is in `dlq` (when it
    /// dead-letters), what does not depend on the hop flows, and the
    /// diagnosis names the hop with the `reason` kind.
    Broken { dlq: Option<String>, reason: &'static str },
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub hop: Hop,
    pub kind: Kind,
    pub promise: Promise,
    /// The chains it drives, to which it adds its fault.
    pub workload: Arc<Workload>,
}

/// A third party as one service wraps it: the request to fail and what a
/// refusal looks like.
struct Wrapped {
    third_party: String,
    matcher: Value,
    refusal: u16,
    /// The service gives up in a background poller, not by dead-lettering.
    background: bool,
}

/// How the third party `service` wraps fails the hop of `event`, as its
/// fake's file says (`chaos:`); `None` when it says nothing for that hop.
fn wrapped(topology: &Topology, service: &str, event: &EventType) -> Option<Wrapped> {
    let m = topology.service(service)?;
    let third_party = &m.wraps.first()?.third_party;
    let spec = crate::fakes::declared([m]).ok()?.into_iter().find(|s| &s.name == third_party)?;
    let chaos = spec.chaos?;
    let matcher = serde_json::to_value(chaos.matcher_for(event.as_str())?).ok()?;
    Some(Wrapped { third_party: spec.name, matcher, refusal: chaos.refuse, background: chaos.background })
}

/// What `service` publishes in answer to `event`, as the topology derives it.
pub fn follow_ups(topology: &Topology, workload: &Workload, service: &str, event: &EventType) -> Vec<EventType> {
    let Some(m) = topology.service(service) else { return Vec::new() };
    let root = root_of(topology, workload, event);
    let mut causes = Vec::new();
    path_to(topology, workload, &root, event, &mut causes);
    m.publishes.iter().filter(|e| !causes.contains(e) && *e != event).cloned().collect()
}

/// The events from `root` down to `event` (inclusive) in the derived chain.
fn path_to(
    topology: &Topology,
    workload: &Workload,
    root: &EventType,
    event: &EventType,
    out: &mut Vec<EventType>,
) -> bool {
    fn walk(tree: &crate::scenario::model::Tree, event: &EventType, out: &mut Vec<EventType>) -> bool {
        for (e, children) in &tree.0 {
            out.push(e.clone());
            if e == event || walk(children, event, out) {
                return true;
            }
            out.pop();
        }
        false
    }
    walk(&chain::derive(topology, root, &workload.alternatives), event, out)
}

/// The root of the workload's chain `event` belongs to (the first chain's, if none).
pub fn root_of(topology: &Topology, workload: &Workload, event: &EventType) -> EventType {
    let roots = workload.chains.iter().map(|c| &c.root);
    let found = roots.clone().find(|r| path_to(topology, workload, r, event, &mut Vec::new()));
    found.or(workload.chains.first().map(|c| &c.root)).cloned().unwrap_or_else(|| event.clone())
}

/// Every (event → listening service) pair of the workload's chains,
/// without the alternative ends and any observer.
pub fn hops(topology: &Topology, workload: &Workload) -> Vec<Hop> {
    let mut hops = Vec::new();
    for root in workload.chains.iter().map(|c| &c.root) {
        let mut events = Vec::new();
        collect(&chain::derive(topology, root, &workload.alternatives), &mut events);
        for event in events {
            for (listener, _) in topology.listeners(&event) {
                let hop = Hop { event: event.clone(), service: Some(listener.name.clone()) };
                if !observer(listener) && !hops.contains(&hop) {
                    hops.push(hop);
                }
            }
        }
    }
    hops
}

fn collect(tree: &crate::scenario::model::Tree, out: &mut Vec<EventType>) {
    for (e, children) in &tree.0 {
        if !out.contains(e) {
            out.push(e.clone());
        }
        collect(children, out);
    }
}

/// The whole matrix: every hop × every kind that applies to it, the
/// services run as `profile` picks (a handler fault needs a fault hook).
pub fn matrix(topology: &Topology, workload: &Arc<Workload>, profile: Option<&str>) -> Vec<Cell> {
    let hops = hops(topology, workload);
    let cell = |hop: Hop, kind: Kind, promise: Promise| Cell { hop, kind, promise, workload: workload.clone() };
    let mut cells = Vec::new();
    for kind in Kind::ALL {
        if kind.per_event() {
            let mut events: Vec<EventType> = hops.iter().map(|h| h.event.clone()).collect();
            events.dedup();
            for event in events {
                cells.push(cell(Hop { event, service: None }, kind, Promise::Recovers));
            }
            continue;
        }
        for hop in &hops {
            if let Some(promise) = applies(topology, workload, hop, kind, profile) {
                cells.push(cell(hop.clone(), kind, promise));
            }
        }
    }
    cells
}

/// Whether `kind` makes sense at `hop`, and what it must show there.
fn applies(topology: &Topology, workload: &Workload, hop: &Hop, kind: Kind, profile: Option<&str>) -> Option<Promise> {
    let service = hop.service.as_deref()?;
    // Handler faults are set through the service's fault hook, which only
    // a service that declares one speaks (the kit's, today).
    let hooked = topology.service(service).and_then(|m| m.run_for(profile)).is_some_and(|r| r.fault_hook);
    if kind.injects() == Some(FaultKind::Handler) && !hooked {
        return None;
    }
    let third = wrapped(topology, service, &hop.event);
    let dead_letter = |reason| Some(Promise::Broken { dlq: Some(service.to_owned()), reason });
    match kind {
        Kind::HandlerFails | Kind::Kill | Kind::Hung | Kind::Disconnect => Some(Promise::Recovers),
        Kind::HandlerFailsAlways => dead_letter("dead_lettered"),
        Kind::DropFollowUp => (!follow_ups(topology, workload, service, &hop.event).is_empty())
            .then_some(Promise::Broken { dlq: None, reason: "handled_without_follow_up" }),
        Kind::Poison => Some(Promise::Quarantined { dlq: service.to_owned() }),
        Kind::ThirdParty5xxWhile => third.map(|_| Promise::Recovers),
        Kind::ThirdParty5xx | Kind::ThirdParty4xx => match third? {
            t if t.background => Some(Promise::Broken { dlq: None, reason: "third_party_failing" }),
            _ => dead_letter("dead_lettered"),
        },
        Kind::Duplicate | Kind::EmulatorPaused => Some(Promise::Recovers),
    }
}

/// A small subset for CI that still covers every kind: the first cell of
/// each kind whose hop no earlier pick used, else the kind's first cell.
pub fn quick(cells: &[Cell]) -> Vec<Cell> {
    let mut picked: Vec<Cell> = Vec::new();
    for kind in Kind::ALL {
        let of_kind: Vec<&Cell> = cells.iter().filter(|c| c.kind == kind).collect();
        let fresh = of_kind.iter().find(|c| !picked.iter().any(|p| p.hop == c.hop));
        if let Some(c) = fresh.or(of_kind.first()) {
            picked.push((*c).clone());
        }
    }
    picked
}

impl Cell {
    /// `chaos-<kind>-<event>-<service>`: the scenario's name, unique per cell.
    pub fn name(&self) -> String {
        let service = self.hop.service.as_deref().unwrap_or("all");
        format!("chaos-{}-{}-{}", self.kind, self.hop.event, service).replace('.', "-")
    }

    /// The label of the workload's chain the hop is in (`main`, or as the workload names it).
    pub fn chain(&self, topology: &Topology) -> String {
        self.workload.label_of(&root_of(topology, &self.workload, &self.hop.event)).to_owned()
    }

    /// The scenario, as a document the scenario loader reads (so the cell
    /// is checked exactly as a scenario file is): the workload's chains and
    /// happy-path expectations, with the fault scoped to the hop's chain.
    pub fn document(&self, topology: &Topology) -> Value {
        let service = self.hop.service.clone().unwrap_or_default();
        let event = self.hop.event.to_string();
        let chain = self.chain(topology);
        let mut faults = Vec::new();
        let mut fakes = serde_json::Map::new();
        // Scoped to the hop's chain; whether it must then run alone is `Scenario::exclusive`'s call.
        let hook = |what: &str| json!({"handler": service, "on": event, "do": what, "chain": chain});
        match self.kind {
            Kind::HandlerFails => {
                let mut fault = hook("fail");
                fault["times"] = json!(2);
                faults.push(fault);
            }
            Kind::HandlerFailsAlways => faults.push(hook("fail_always")),
            Kind::DropFollowUp => faults.push(hook("drop_follow_up")),
            Kind::Duplicate => faults.push(json!({"duplicate": event, "chain": chain})),
            Kind::Poison => {
                let body = json!({"type": event, "data": "no handler can read this"}).to_string();
                faults.push(json!({"poison": service, "body": body, "chain": chain}));
            }
            Kind::ThirdParty5xxWhile | Kind::ThirdParty5xx | Kind::ThirdParty4xx => {
                if let Some(t) = wrapped(topology, &service, &self.hop.event) {
                    let respond = match self.kind {
                        Kind::ThirdParty5xxWhile => {
                            json!([{"status": 503, "body": {"error": "chaos"}, "times": 3}, {"as_usual": true}])
                        }
                        Kind::ThirdParty5xx => json!([{"status": 503, "body": {"error": "chaos"}}]),
                        _ => json!([{"status": t.refusal, "body": {"error": "chaos refuses"}}]),
                    };
                    fakes.insert(t.third_party, json!([{"match": t.matcher, "respond": respond}]));
                }
            }
            Kind::Kill => faults.push(json!({"kill": service, "when": event, "chain": chain})),
            // Past the service's visibility timeout, the fault's default.
            Kind::Hung => faults.push(json!({"pause": service, "when": event, "chain": chain})),
            Kind::EmulatorPaused => {
                faults.push(json!({"pause": "emulator", "when": event, "seconds": 3, "chain": chain}))
            }
            Kind::Disconnect => {
                faults.push(json!({"disconnect": service, "when": event, "seconds": DISCONNECTED, "chain": chain}))
            }
        }
        let mut dead_letters = serde_json::Map::new();
        if let Promise::Quarantined { dlq } = &self.promise {
            dead_letters.insert(dlq.clone(), json!(1));
        }
        // The workload's scenario, with the cell's fault, fakes and dead letters added.
        let mut doc = self.workload.document.clone();
        doc["description"] = json!(format!("{}: {} at {}", self.name(), self.kind, self.hop));
        let add = |doc: &mut Value, at: &str, more: Vec<Value>| {
            let list = doc[at].as_array().cloned().unwrap_or_default();
            doc[at] = Value::Array(list.into_iter().chain(more).collect());
        };
        add(&mut doc, "faults", faults);
        for (fake, rules) in fakes {
            let mut all = doc["fakes"][fake.as_str()].as_array().cloned().unwrap_or_default();
            all.extend(rules.as_array().cloned().unwrap_or_default());
            doc["fakes"][fake.as_str()] = Value::Array(all);
        }
        for (dlq, n) in dead_letters {
            doc["expect"]["dead_letters"][dlq.as_str()] = n;
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Topology {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services");
        crate::load_topology(&dir).expect("the reference topology").0
    }

    #[test]
    fn the_matrix_covers_every_listening_hop_and_every_kind() {
        let topology = reference();
        let cells = matrix(&topology, &super::super::workload::reference(), None);
        let hops = hops(&topology, &super::super::workload::reference());
        assert!(cells.len() >= 40, "{} cells", cells.len());
        for hop in &hops {
            assert!(cells.iter().any(|c| c.hop == *hop), "no cell at {hop}");
        }
        for kind in Kind::ALL {
            assert!(cells.iter().any(|c| c.kind == kind), "no cell of {kind}");
        }
        let named: Vec<String> = hops.iter().map(|h| h.to_string()).collect();
        for hop in ["order.placed → devices", "device.allocated → fulfillment", "shipment.requested → tracking"] {
            assert!(named.iter().any(|n| n == hop), "{hop} missing from {named:?}");
        }
        assert!(named.iter().any(|n| n == "user.registered → mailer"), "{named:?}");
        assert!(!named.iter().any(|n| n.ends_with("collector")), "{named:?}");
    }

    #[test]
    fn quick_covers_every_kind() {
        let cells = matrix(&reference(), &super::super::workload::reference(), None);
        let quick = quick(&cells);
        for kind in Kind::ALL {
            assert!(quick.iter().any(|c| c.kind == kind), "--quick lacks {kind}");
        }
        assert_eq!(quick.len(), Kind::ALL.len());
    }

    #[test]
    fn disconnect_cuts_each_hops_service_off_in_containers_and_is_not_applicable_to_processes() {
        let topology = reference();
        let cells = matrix(&topology, &super::super::workload::reference(), None);
        let cut: Vec<&Hop> = cells.iter().filter(|c| c.kind == Kind::Disconnect).map(|c| &c.hop).collect();
        assert_eq!(
            cut,
            hops(&topology, &super::super::workload::reference()).iter().collect::<Vec<_>>(),
            "one cell per hop"
        );
        let why = Kind::Disconnect.not_applicable(Runtime::Processes).unwrap_or_default();
        assert!(why.contains("--runtime containers"), "{why}");
        for kind in Kind::ALL {
            assert_eq!(kind.not_applicable(Runtime::Containers), None, "{kind} in containers");
            if kind != Kind::Disconnect {
                assert_eq!(kind.not_applicable(Runtime::Processes), None, "{kind} in processes");
            }
        }
        let cell =
            cells.iter().find(|c| c.kind == Kind::Disconnect && c.hop.to_string() == "device.allocated → fulfillment");
        let fault = &cell.expect("a disconnect cell at fulfillment").document(&topology)["faults"][0];
        assert_eq!(
            (fault["disconnect"].as_str(), fault["when"].as_str()),
            (Some("fulfillment"), Some("device.allocated"))
        );
        assert_eq!(cell.map(|c| &c.promise), Some(&Promise::Recovers));
    }

    #[test]
    fn drop_follow_up_applies_only_where_a_follow_up_is_published() {
        let topology = reference();
        let cells = matrix(&topology, &super::super::workload::reference(), None);
        let drops: Vec<String> =
            cells.iter().filter(|c| c.kind == Kind::DropFollowUp).map(|c| c.hop.to_string()).collect();
        assert!(drops.contains(&"device.allocated → fulfillment".to_owned()), "{drops:?}");
        assert!(!drops.iter().any(|d| d.ends_with("→ store")), "store publishes nothing in answer: {drops:?}");
    }

    #[test]
    fn handler_faults_go_only_to_services_that_speak_the_fault_hook() {
        let handler = |cells: &[Cell], service: &str| {
            cells
                .iter()
                .any(|c| c.kind.injects() == Some(FaultKind::Handler) && c.hop.service.as_deref() == Some(service))
        };
        let rust = matrix(&reference(), &super::super::workload::reference(), None);
        assert!(handler(&rust, "invoice"), "the Rust invoice speaks the kit's hook");
        assert!(!handler(&rust, "loyalty"), "loyalty (Python) declares no fault hook");
        assert!(rust.iter().any(|c| c.kind == Kind::Kill && c.hop.service.as_deref() == Some("loyalty")));
        let python = matrix(&reference(), &super::super::workload::reference(), Some("python"));
        assert!(!handler(&python, "invoice"), "the Python invoice declares none either");
        assert!(python.iter().any(|c| c.kind == Kind::Poison && c.hop.service.as_deref() == Some("invoice")));
    }
}
