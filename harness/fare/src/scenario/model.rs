//! A scenario as written in `scenarios/*.yaml`: its fakes, faults, steps and
//! expectations. Everything that can be checked while reading is checked
//! while reading (through `try_from`), so a bad value is reported by the YAML
//! parser with its field path, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use kit::EventType;
use kit::faults::FaultAction;
use serde::Deserialize;
use serde_json::Value;

use crate::fakes::{Matcher, Reply};

pub use super::expect::{ChainExpectation, Expect, Tree};
pub use crate::runtime::Process;

/// A name for one chain of a scenario; each runs under its own correlation
/// id. `main` is the default one, the one `expect.chain` is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Label(String);

impl Label {
    pub fn main() -> Label {
        Label("main".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Label {
    fn default() -> Self {
        Label::main()
    }
}

impl TryFrom<String> for Label {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let ok = (1..=32).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Label(value))
        } else {
            Err(format!(
                "`{value}` is not a chain label; expected lower-case letters, digits or '-', starting with a letter"
            ))
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `METHOD target /path`: `target` is a service or a fake.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Call {
    pub method: reqwest::Method,
    pub target: String,
    pub path: String,
}

impl TryFrom<String> for Call {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let expected = "expected `METHOD target /path`, such as `POST store /orders`";
        let parts: Vec<&str> = value.split_whitespace().collect();
        let [method, target, path] = parts[..] else { return Err(format!("`{value}`: {expected}")) };
        let method = match method {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => reqwest::Method::from_bytes(method.as_bytes()),
            _ => return Err(format!("`{method}` is not an HTTP method in upper case; {expected}")),
        };
        let method = method.map_err(|e| e.to_string())?;
        if !path.starts_with('/') {
            return Err(format!("`{path}` does not start with '/'; {expected}"));
        }
        Ok(Call { method, target: target.to_owned(), path: path.to_owned() })
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.method, self.target, self.path)
    }
}

/// An HTTP request and what its answer must be; a step, or a final check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub http: Call,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub chain: Label,
    /// A bearer token: `Authorization: Bearer <auth>`.
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request's JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// The status the answer must have; any 2xx when unset.
    #[serde(default)]
    pub status: Option<u16>,
    /// Fields the answer's JSON must have (a subset; arrays element-wise).
    #[serde(default)]
    pub response: Option<Value>,
    /// The answer is a JSON array of exactly this many elements.
    #[serde(default)]
    pub length: Option<usize>,
    /// Variables to take from the answer: `name: dotted.path` in its JSON,
    /// or `name: header:x-correlation-id`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

impl Http {
    /// The variables the request uses (its path, headers, token, body and
    /// expected answer), in order.
    pub fn uses(&self) -> Vec<String> {
        use super::template::{names, names_in};
        let mut out = names(&self.http.path);
        out.extend(self.headers.values().flat_map(|v| names(v)));
        out.extend(self.auth.iter().flat_map(|a| names(a)));
        out.extend(self.body.iter().chain(&self.response).flat_map(names_in));
        out
    }
}

/// Waits until an event of a chain has been seen (never a fixed sleep).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitFor {
    pub event: EventType,
    #[serde(default)]
    pub chain: Label,
    #[serde(default = "default_wait_seconds")]
    pub timeout_seconds: u64,
}

fn default_wait_seconds() -> u64 {
    60
}

/// Stops a service and starts it again with some settings changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    pub service: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// One step; exactly one of `http`, `wait_for`, `quiet`, `restart`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawStep")]
pub enum Step {
    Http(Box<Http>),
    WaitFor(WaitFor),
    Quiet,
    Restart(Restart),
}

/// Every field any step may have, so that a wrong value is reported at its
/// own field and line; which ones go together is checked after.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    http: Option<Call>,
    name: Option<String>,
    chain: Option<Label>,
    auth: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
    status: Option<u16>,
    response: Option<Value>,
    length: Option<usize>,
    #[serde(default)]
    capture: BTreeMap<String, String>,
    wait_for: Option<WaitFor>,
    quiet: Option<bool>,
    restart: Option<Restart>,
}

impl TryFrom<RawStep> for Step {
    type Error = String;
    fn try_from(r: RawStep) -> Result<Self, Self::Error> {
        let kinds = [
            ("http", r.http.is_some()),
            ("wait_for", r.wait_for.is_some()),
            ("quiet", r.quiet.is_some()),
            ("restart", r.restart.is_some()),
        ];
        let given: Vec<&str> = kinds.iter().filter(|(_, set)| *set).map(|(k, _)| *k).collect();
        let names = "`http`, `wait_for`, `quiet` or `restart`";
        if given.len() != 1 {
            return Err(match given.len() {
                0 => format!("a step needs one of {names}"),
                _ => format!("a step has one of {names}; this one has `{}`", given.join("` and `")),
            });
        }
        let http_only = [
            ("chain", r.chain.is_some()),
            ("auth", r.auth.is_some()),
            ("headers", !r.headers.is_empty()),
            ("body", r.body.is_some()),
            ("status", r.status.is_some()),
            ("response", r.response.is_some()),
            ("length", r.length.is_some()),
            ("capture", !r.capture.is_empty()),
        ];
        if let Some(call) = r.http {
            return Ok(Step::Http(Box::new(Http {
                http: call,
                name: r.name,
                chain: r.chain.unwrap_or_default(),
                auth: r.auth,
                headers: r.headers,
                body: r.body,
                status: r.status,
                response: r.response,
                length: r.length,
                capture: r.capture,
            })));
        }
        if let Some((field, _)) = http_only.iter().find(|(_, set)| *set) {
            return Err(format!("`{field}` belongs to an `http` step"));
        }
        Ok(match (r.wait_for, r.quiet, r.restart) {
            (Some(w), _, _) => Step::WaitFor(w),
            (_, Some(_), _) => Step::Quiet,
            (_, _, Some(restart)) => Step::Restart(restart),
            _ => unreachable!("exactly one kind was checked above"),
        })
    }
}

/// A rule for a fake: scoped to the scenario's chains unless `global`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawFakeRule")]
pub struct FakeRule {
    pub matcher: Matcher,
    pub respond: Vec<Reply>,
    pub global: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFakeRule {
    #[serde(rename = "match", default)]
    matcher: Matcher,
    respond: Vec<Reply>,
    #[serde(default)]
    global: bool,
}

impl TryFrom<RawFakeRule> for FakeRule {
    type Error = String;
    fn try_from(raw: RawFakeRule) -> Result<Self, Self::Error> {
        if raw.respond.is_empty() {
            return Err("respond: give at least one reply".into());
        }
        if let Some((i, p)) = raw.respond.iter().enumerate().find_map(|(i, r)| r.problem().map(|p| (i, p))) {
            return Err(format!("respond[{i}]: {p}"));
        }
        Ok(FakeRule { matcher: raw.matcher, respond: raw.respond, global: raw.global })
    }
}

/// Something that goes wrong on purpose while the scenario runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawFault")]
pub enum Fault {
    /// Stop `service` once `when` is seen in the chain (at the start if
    /// unset); start it again once `restart_when` is seen (at once if unset).
    Stop { service: String, when: Option<EventType>, restart_when: Option<EventType>, chain: Label },
    /// SIGKILL `service` once `when` is seen (at the start if unset), as a
    /// crash would: the supervisor's restart policy brings it back or, with
    /// `restart_when`, it stays down until that event is seen.
    Kill { service: String, when: Option<EventType>, restart_when: Option<EventType>, chain: Label },
    /// SIGSTOP `process` once `when` is seen, SIGCONT `seconds` later: a
    /// service hung, not dead (by default past its queue's visibility
    /// timeout), or the emulator unreachable for a while.
    Pause { process: Process, when: Option<EventType>, seconds: Option<u64>, chain: Label },
    /// Cut `process`'s container off the run's network once `when` is
    /// seen, and connect it again `seconds` later (container mode only).
    Disconnect { process: Process, when: Option<EventType>, seconds: Option<u64>, chain: Label },
    /// Publish the chain's first `event` again, as SNS may deliver twice.
    Duplicate { event: EventType, times: u32, chain: Label },
    /// Put a message no handler can take on `service`'s queue.
    Poison { service: String, body: String, chain: Label },
    /// `service`'s handler misbehaves on `on` in the chain, through the
    /// service's fault hook (`kit::faults`).
    Handler { service: String, on: EventType, action: FaultAction, chain: Label },
    /// `service`'s subscription to `on` gets a filter policy that keeps the
    /// chain's events out, as a mistaken filter would; restored afterwards.
    FilterOut { service: String, on: EventType, chain: Label },
}

impl fmt::Display for Fault {
    /// `stop store`, `kill fulfillment`, `pause emulator`: as a report line names it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Stop { service, .. } => write!(f, "stop {service}"),
            Fault::Kill { service, .. } => write!(f, "kill {service}"),
            Fault::Pause { process, .. } => write!(f, "pause {process}"),
            Fault::Disconnect { process, .. } => write!(f, "disconnect {process}"),
            Fault::Duplicate { event, .. } => write!(f, "duplicate {event}"),
            Fault::Poison { service, .. } => write!(f, "poison {service}"),
            Fault::Handler { service, on, .. } => write!(f, "handler {service} on {on}"),
            Fault::FilterOut { service, on, .. } => write!(f, "filter {on} out of {service}"),
        }
    }
}

impl Fault {
    /// Whether it acts on processes (stops, kills or freezes them), which
    /// every chain running at the time would feel: such a scenario runs alone.
    pub fn signals_processes(&self) -> bool {
        matches!(self, Fault::Stop { .. } | Fault::Kill { .. } | Fault::Pause { .. } | Fault::Disconnect { .. })
    }
}

/// What a handler fault does, as a scenario names it (`do:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HandlerDo {
    Fail,
    FailAlways,
    DropFollowUp,
    Crash,
    Delay,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    stop: Option<String>,
    kill: Option<String>,
    pause: Option<String>,
    disconnect: Option<String>,
    duplicate: Option<EventType>,
    poison: Option<String>,
    handler: Option<String>,
    filter_out: Option<String>,
    when: Option<EventType>,
    restart_when: Option<EventType>,
    seconds: Option<u64>,
    times: Option<u32>,
    body: Option<String>,
    on: Option<EventType>,
    #[serde(rename = "do")]
    action: Option<HandlerDo>,
    delay_ms: Option<u64>,
    #[serde(default)]
    chain: Label,
}

const KINDS: &str = "a fault is exactly one of `stop: SERVICE`, `kill: SERVICE`, `pause: SERVICE|emulator`, \
                     `disconnect: SERVICE|emulator`, `duplicate: EVENT`, `poison: SERVICE`, `handler: SERVICE`, `filter_out: SERVICE`";

impl RawFault {
    /// The one kind key that is set.
    fn kind(&self) -> Result<&'static str, String> {
        let keys = [
            ("stop", self.stop.is_some()),
            ("kill", self.kill.is_some()),
            ("pause", self.pause.is_some()),
            ("disconnect", self.disconnect.is_some()),
            ("duplicate", self.duplicate.is_some()),
            ("poison", self.poison.is_some()),
            ("handler", self.handler.is_some()),
            ("filter_out", self.filter_out.is_some()),
        ];
        match keys.iter().filter(|(_, set)| *set).map(|(k, _)| *k).collect::<Vec<_>>()[..] {
            [kind] => Ok(kind),
            _ => Err(KINDS.into()),
        }
    }

    /// Fails on the first field set that `kind` does not take.
    fn only(&self, kind: &str, allowed: &[&str]) -> Result<(), String> {
        let fields = [
            ("when", self.when.is_some()),
            ("restart_when", self.restart_when.is_some()),
            ("seconds", self.seconds.is_some()),
            ("times", self.times.is_some()),
            ("body", self.body.is_some()),
            ("on", self.on.is_some()),
            ("do", self.action.is_some()),
            ("delay_ms", self.delay_ms.is_some()),
        ];
        match fields.iter().find(|(f, set)| *set && !allowed.contains(f)) {
            Some((field, _)) => Err(format!("`{field}` does not belong to a `{kind}` fault")),
            None => Ok(()),
        }
    }
}

/// The `handler` fault of `r`.
fn handler_fault(service: String, r: RawFault) -> Result<Fault, String> {
    let (Some(on), Some(action)) = (r.on, r.action) else {
        return Err(
            "a `handler` fault needs `on: EVENT` and `do: fail | fail_always | drop_follow_up | crash | delay`".into(),
        );
    };
    if r.times.is_some() && action != HandlerDo::Fail {
        return Err("`times` belongs to `do: fail` only".into());
    }
    if r.delay_ms.is_some() != (action == HandlerDo::Delay) {
        return Err("`delay_ms` goes with `do: delay`, and only with it".into());
    }
    let action = match action {
        HandlerDo::Fail => FaultAction::Fail { times: r.times.unwrap_or(1).max(1) },
        HandlerDo::FailAlways => FaultAction::FailAlways,
        HandlerDo::DropFollowUp => FaultAction::DropFollowUp,
        HandlerDo::Crash => FaultAction::Crash,
        HandlerDo::Delay => FaultAction::Delay { ms: r.delay_ms.unwrap_or_default() },
    };
    Ok(Fault::Handler { service, on, action, chain: r.chain })
}

// Its errors, and those of `RawFault::kind`, `RawFault::only` and
// `handler_fault`, are text: serde makes each the message it reports at the
// fault's line, so no caller sees anything but that text.
impl TryFrom<RawFault> for Fault {
    type Error = String;
    fn try_from(r: RawFault) -> Result<Self, Self::Error> {
        let kind = r.kind()?;
        let allowed: &[&str] = match kind {
            "stop" | "kill" => &["when", "restart_when"],
            "pause" | "disconnect" => &["when", "seconds"],
            "duplicate" => &["times"],
            "poison" => &["body"],
            "handler" => &["on", "do", "times", "delay_ms"],
            _ => &["on"],
        };
        r.only(kind, allowed)?;
        let chain = r.chain.clone();
        Ok(match kind {
            "stop" => {
                Fault::Stop { service: r.stop.unwrap_or_default(), when: r.when, restart_when: r.restart_when, chain }
            }
            "kill" => {
                Fault::Kill { service: r.kill.unwrap_or_default(), when: r.when, restart_when: r.restart_when, chain }
            }
            "pause" => {
                if r.seconds == Some(0) {
                    return Err("`seconds` is how long the process stays frozen: at least 1".into());
                }
                Fault::Pause {
                    process: Process::from(r.pause.unwrap_or_default()),
                    when: r.when,
                    seconds: r.seconds,
                    chain,
                }
            }
            "disconnect" => {
                if r.seconds == Some(0) {
                    return Err("`seconds` is how long the container stays cut off: at least 1".into());
                }
                let process = Process::from(r.disconnect.unwrap_or_default());
                Fault::Disconnect { process, when: r.when, seconds: r.seconds, chain }
            }
            "duplicate" => {
                Fault::Duplicate { event: r.duplicate.ok_or(KINDS)?, times: r.times.unwrap_or(1).max(1), chain }
            }
            "poison" => Fault::Poison {
                service: r.poison.unwrap_or_default(),
                body: r.body.unwrap_or_else(|| "this is not an event".into()),
                chain,
            },
            "handler" => {
                let service = r.handler.clone().unwrap_or_default();
                handler_fault(service, r)?
            }
            _ => {
                let Some(on) = r.on else { return Err("a `filter_out` fault needs `on: EVENT`".into()) };
                Fault::FilterOut { service: r.filter_out.unwrap_or_default(), on, chain }
            }
        })
    }
}

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Variables, templated once at the start (`{{run}}` is unique per run).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Rules per fake (by third-party name), installed before the steps.
    #[serde(default)]
    pub fakes: BTreeMap<String, Vec<FakeRule>>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub expect: Expect,
}

/// A scenario read from its file.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub path: PathBuf,
    pub file: ScenarioFile,
    /// The file's text: semantic errors found later locate their line in it.
    pub source: String,
}

impl Scenario {
    /// Whether it must run alone: it stops services or changes what a fake
    /// answers every chain.
    pub fn exclusive(&self) -> bool {
        self.file.faults.iter().any(Fault::signals_processes)
            || self.file.steps.iter().any(|s| matches!(s, Step::Restart(_)))
            || self.file.fakes.values().flatten().any(|r| r.global)
    }

    /// Why it needs the platform this process started (and is skipped on
    /// one it attached to), if it does: it stops services, programs every
    /// chain's fakes, or sets handler faults (only the process that started
    /// a service holds its fault hook).
    pub fn needs_control(&self) -> Option<&'static str> {
        if self.exclusive() {
            return Some("it stops, kills or freezes processes, or programs every chain's fakes");
        }
        let hooks = self.file.faults.iter().any(|f| matches!(f, Fault::Handler { .. }));
        hooks.then_some("it sets handler faults, through the fault hooks only the fare that started the services holds")
    }

    /// Every chain label the scenario uses.
    pub fn labels(&self) -> Vec<Label> {
        let mut labels = vec![Label::main()];
        let steps = self.file.steps.iter().filter_map(|s| match s {
            Step::Http(h) => Some(h.chain.clone()),
            Step::WaitFor(w) => Some(w.chain.clone()),
            _ => None,
        });
        labels.extend(steps.chain(self.file.expect.chains.keys().cloned()));
        labels.sort();
        labels.dedup();
        labels
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::{ScenarioError, load};

    fn read(text: &str) -> Result<Scenario, ScenarioError> {
        let services = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services");
        let (topology, _) = crate::load_topology(&services).unwrap();
        let s = load::parse(Path::new("case.yaml"), text)?;
        load::check(&s, &topology)?;
        Ok(s)
    }

    /// Each `(text, line, field, message)`: the text is refused at that
    /// line and field, with a message that contains `message`.
    fn assert_refused(cases: &[(&str, usize, &str, &str)]) {
        for &(text, want_line, want_field, want_message) in cases {
            let err = read(text).unwrap_err();
            let ScenarioError::Invalid { line, field, message, .. } = &err else { panic!("{err:?}") };
            assert_eq!((*line, field.as_str()), (Some(want_line), want_field), "{err}");
            assert!(message.contains(want_message), "{want_message} in {err}");
        }
    }

    #[test]
    fn a_handler_fault_reads_into_the_kits_action() {
        let text = "steps: []\nfaults:\n  - handler: fulfillment\n    on: device.allocated\n    do: fail\n    times: 2\n  - {handler: store, on: package.delivered, do: fail, chain: other}\n  - {handler: devices, on: order.placed, do: delay, delay_ms: 1500}\n  - {handler: invoice, on: order.placed, do: crash}\n";
        let s = read("steps: []\nfaults:\n  - {handler: store, on: device.allocated, do: drop_follow_up}\n").unwrap();
        assert!(!s.exclusive() && s.needs_control().is_some(), "side by side, but not under --attach");
        let faults: Vec<(String, FaultAction, String)> = match read(text) {
            Ok(s) => s.file.faults.into_iter().filter_map(|f| match f {
                Fault::Handler { service, action, chain, .. } => Some((service, action, chain.to_string())),
                _ => None,
            }),
            Err(e) => panic!("{e}"),
        }
        .collect();
        assert_eq!(
            faults,
            [
                ("fulfillment".into(), FaultAction::Fail { times: 2 }, "main".into()),
                ("store".into(), FaultAction::Fail { times: 1 }, "other".into()),
                ("devices".into(), FaultAction::Delay { ms: 1500 }, "main".into()),
                ("invoice".into(), FaultAction::Crash, "main".into()),
            ]
        );
    }

    #[test]
    fn kill_and_pause_read_and_run_alone() {
        let text = "steps: []\nfaults:\n  - {kill: fulfillment, when: device.allocated}\n  - {kill: tracking, when: order.placed, restart_when: package.delivered}\n  - {pause: mailer, when: order.placed}\n  - {pause: emulator, seconds: 2}\n  - {pause: users, seconds: 4}\n";
        let s = read(text).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.exclusive(), "faults on processes run alone");
        let shown: Vec<String> = s.file.faults.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["kill fulfillment", "kill tracking", "pause mailer", "pause emulator", "pause users"]);
        assert!(matches!(
            &s.file.faults[1],
            Fault::Kill { restart_when: Some(e), .. } if e.as_str() == "package.delivered"
        ));
        assert!(
            matches!(&s.file.faults[2], Fault::Pause { process: Process::Service(n), seconds: None, .. } if n == "mailer")
        );
        assert!(matches!(&s.file.faults[3], Fault::Pause { process: Process::Emulator, seconds: Some(2), .. }));
    }

    #[test]
    fn a_wrong_kill_or_pause_is_named_by_line_and_field() {
        let cases = [
            (
                "steps: []\nfaults:\n  - {kill: fulfillment, times: 2}\n",
                3,
                "faults[0]",
                "`times` does not belong to a `kill` fault",
            ),
            (
                "steps: []\nfaults:\n  - {pause: mailer, restart_when: order.placed}\n",
                3,
                "faults[0]",
                "`restart_when` does not belong to a `pause` fault",
            ),
            ("steps: []\nfaults:\n  - {pause: mailer, seconds: 0}\n", 3, "faults[0]", "at least 1"),
            ("steps: []\nfaults:\n  - {kill: mailer, pause: mailer}\n", 3, "faults[0]", "exactly one of"),
            ("steps: []\nfaults:\n  - kill: shop\n", 3, "faults[0].kill", "no service `shop`"),
            ("steps: []\nfaults:\n  - pause: users\n", 3, "faults[0].pause", "users has no queue"),
            (
                "steps: []\nfaults:\n  - {pause: emulator, when: order.shipped}\n",
                3,
                "faults[0].when",
                "no service publishes or hears `order.shipped`",
            ),
        ];
        assert_refused(&cases);
    }

    #[test]
    fn a_wrong_handler_fault_is_named_by_line_and_field() {
        let cases = [
            (
                "steps: []\nfaults:\n  - handler: store\n    on: order.placed\n    do: explode\n",
                5,
                "faults[0].do",
                "unknown variant `explode`",
            ),
            (
                "steps: []\nfaults:\n  - {handler: store, on: order.placed, do: drop_follow_up, times: 2}\n",
                3,
                "faults[0]",
                "`times` belongs to `do: fail` only",
            ),
            (
                "steps: []\nfaults:\n  - {handler: store, on: order.placed, do: delay}\n",
                3,
                "faults[0]",
                "`delay_ms` goes with `do: delay`",
            ),
            (
                "steps: []\nfaults:\n  - {handler: store, on: order.placed, do: fail, delay_ms: 5}\n",
                3,
                "faults[0]",
                "`delay_ms` goes with `do: delay`",
            ),
            ("steps: []\nfaults:\n  - {handler: store, do: crash}\n", 3, "faults[0]", "needs `on: EVENT` and `do:"),
            (
                "steps: []\nfaults:\n  - {handler: store, stop: store, on: order.placed, do: crash}\n",
                3,
                "faults[0]",
                "exactly one of",
            ),
            (
                "steps: []\nfaults:\n  - {stop: store, on: order.placed}\n",
                3,
                "faults[0]",
                "`on` does not belong to a `stop` fault",
            ),
            (
                "steps: []\nfaults:\n  - {handler: store, on: order.placed, do: crash, when: order.placed}\n",
                3,
                "faults[0]",
                "does not belong to a `handler` fault",
            ),
            (
                "steps: []\nfaults:\n  - handler: shop\n    on: order.placed\n    do: crash\n",
                3,
                "faults[0].handler",
                "no service `shop`",
            ),
            (
                "steps: []\nfaults:\n  - handler: users\n    on: order.placed\n    do: crash\n",
                4,
                "faults[0].on",
                "users does not listen to `order.placed` (it listens to nothing)",
            ),
            (
                "steps: []\nfaults:\n  - handler: store\n    on: order.placed\n    do: crash\n",
                4,
                "faults[0].on",
                "store does not listen to `order.placed` (it listens to device.allocated",
            ),
        ];
        assert_refused(&cases);
    }
}
