//! The fault hook: handler faults that fare injects into a service for one
//! run, without the service's code knowing. On an event type (and, if
//! given, a chain) the consumer fails a few times, fails always, crashes,
//! waits, or lets the handler succeed while the events it staged in answer
//! are never published.
//!
//! Only the process that started the service can turn it on. fare hands
//! the service one end of a Unix socket pair, the way it hands down the
//! listening socket, and names it in `FARE_FAULT_FD`. The variable alone
//! enables nothing: the descriptor must be an open Unix stream socket, so a
//! deployed service, started by anything but fare, has no hook at all, and
//! nothing about it is reachable over HTTP.
//!
//! A container inherits no descriptor. There fare listens on a Unix socket
//! in a directory of its own, mounted into the service's container, and
//! names the socket's path in `FARE_FAULT_SOCKET`; the service connects to
//! it once, as it starts, and the hook runs on that connection exactly as
//! on the socket pair. Again the variable alone enables nothing: without
//! fare listening at that path, on the service's own filesystem, there is
//! no hook, and a socket file is not reachable over the network.
//!
//! # The protocol
//!
//! One JSON line per request, from fare; one JSON line per answer. Each
//! request replaces the whole rule set; `{"rules":[]}` clears it.
//!
//! ```text
//! → {"rules":[{"event":"device.allocated","action":"drop_follow_up","correlation_id":"e2e-x-1"},
//!             {"event":"order.placed","action":{"fail":{"times":2}}}]}
//! ← {"ok":true,"rules":2}
//! → {"rules":[{"event":"order.placed","action":"explode"}]}
//! ← {"ok":false,"rules":2,"error":"rules[0].action: unknown variant `explode`, …"}
//! ```
//!
//! Actions: `{"fail":{"times":N}}`, `"fail_always"`, `"drop_follow_up"`,
//! `"crash"`, `{"delay":{"ms":D}}`. A rule with a `correlation_id` hits that
//! chain and the chains under it (`<id>.<anything>`), so chains running side
//! by side are unaffected. The first rule that matches an event decides.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::envelope::{Envelope, EventType};

/// The variable naming the descriptor of the hook's socket.
pub const FD_VAR: &str = "FARE_FAULT_FD";

/// The variable naming the path of the Unix socket fare listens on for
/// the hook, in container mode.
pub const SOCKET_VAR: &str = "FARE_FAULT_SOCKET";

/// The exit status of a process a `crash` fault ended.
pub const CRASH_EXIT_CODE: i32 = 86;

/// The whole rule set, as one request carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRules {
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One fault on one event type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub event: EventType,
    pub action: FaultAction,
    /// Only this chain and the chains under it (`<id>.<label>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl FaultRule {
    fn matches(&self, event: &Envelope) -> bool {
        self.event == event.event_type
            && self.correlation_id.as_deref().is_none_or(|scope| {
                let id = event.correlation_id.as_str();
                id == scope || id.strip_prefix(scope).is_some_and(|rest| rest.starts_with('.'))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Each event's first `times` attempts fail (to be retried), then it is
    /// handled.
    Fail { times: u32 },
    /// Every attempt fails: the queue's redrive policy moves the message to
    /// the dead-letter queue after `max_receive_count` receives.
    FailAlways,
    /// The handler runs and succeeds; the events it staged in answer
    /// (`causation_id` = this event's id) are deleted, not published.
    DropFollowUp,
    /// On a message's first receive, the handler runs (its effects are
    /// committed), then the process exits with [`CRASH_EXIT_CODE`] before the
    /// message is deleted: the queue delivers it again after its visibility
    /// timeout, and that delivery is handled.
    Crash,
    /// Waits `ms` milliseconds, then handles.
    Delay { ms: u64 },
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Fail { times } => write!(f, "fail {times} time(s)"),
            FaultAction::FailAlways => f.write_str("fail_always"),
            FaultAction::DropFollowUp => f.write_str("drop_follow_up"),
            FaultAction::Crash => f.write_str("crash"),
            FaultAction::Delay { ms } => write!(f, "delay {ms} ms"),
        }
    }
}

/// What the hook decided for one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    /// Failure number `failure`, of `of` (`None`: always).
    Fail {
        failure: u32,
        of: Option<u32>,
    },
    DropFollowUp,
    Crash,
    Delay(Duration),
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Injected::Fail { failure, of: Some(of) } => write!(f, "fail ({failure} of {of})"),
            Injected::Fail { failure, of: None } => write!(f, "fail_always (attempt {failure})"),
            Injected::DropFollowUp => f.write_str("drop_follow_up"),
            Injected::Crash => write!(f, "crash (exit status {CRASH_EXIT_CODE})"),
            Injected::Delay(d) => write!(f, "delay {} ms", d.as_millis()),
        }
    }
}

/// One answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    /// The rules in force after the request.
    pub rules: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("talking to the fault hook: {0}")]
    Io(#[from] std::io::Error),
    #[error("the service closed its fault hook (it exited, or it has no consumer)")]
    Closed,
    #[error("the fault hook refused the rules: {0}")]
    Refused(String),
    #[error("the fault hook answered something else than a reply: {0}")]
    Garbled(String),
}

/// Sends `rules` over fare's end of a hook's socket and waits, at most
/// `timeout`, for the service to take them.
pub fn send(stream: &UnixStream, rules: &FaultRules, timeout: Duration) -> Result<Reply, HookError> {
    let mut line = serde_json::to_string(rules).map_err(|e| HookError::Garbled(e.to_string()))?;
    line.push('\n');
    stream.set_write_timeout(Some(timeout))?;
    stream.set_read_timeout(Some(timeout))?;
    (&*stream).write_all(line.as_bytes())?;
    let mut answer = String::new();
    if BufReader::new(stream).read_line(&mut answer)? == 0 {
        return Err(HookError::Closed);
    }
    let reply: Reply = serde_json::from_str(&answer).map_err(|_| HookError::Garbled(answer.trim().to_owned()))?;
    match reply.error {
        Some(error) if !reply.ok => Err(HookError::Refused(error)),
        _ => Ok(reply),
    }
}

/// The rules in force in this process, and what they have done so far.
#[derive(Debug, Default)]
pub struct Faults {
    enabled: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<FaultRule>,
    /// Failures injected per event id; kept when the rules are replaced,
    /// so another chain's rules arriving do not start a count again.
    failures: HashMap<Uuid, u32>,
    /// Events whose follow-ups the relay deletes instead of publishing.
    dropped: HashSet<String>,
}

impl Faults {
    /// No hook: decides nothing, ever.
    pub fn disabled() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// This process's hook, from the socket named by `FARE_FAULT_FD` or,
    /// without it, the one fare listens on at `FARE_FAULT_SOCKET`, taken
    /// once; disabled without either.
    pub fn inherited() -> Arc<Faults> {
        static INHERITED: OnceLock<Arc<Faults>> = OnceLock::new();
        INHERITED
            .get_or_init(|| match (std::env::var(FD_VAR), std::env::var_os(SOCKET_VAR)) {
                (Ok(value), _) => adopt(&value),
                (Err(_), Some(path)) => connect(std::path::Path::new(&path)),
                (Err(_), None) => Faults::disabled(),
            })
            .clone()
    }

    /// A hook that takes its rules from `stream`, answering each request,
    /// until the other end closes it (then the rules are cleared).
    pub fn listen(stream: UnixStream) -> Arc<Faults> {
        let faults = Arc::new(Faults { enabled: true, state: Mutex::default() });
        let serving = faults.clone();
        let spawned = std::thread::Builder::new().name("fault-hook".into()).spawn(move || serving.serve(stream));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "fault hook not started");
        }
        faults
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn replace(&self, rules: FaultRules) {
        self.state().rules = rules.rules;
    }

    fn serve(&self, stream: UnixStream) {
        let mut answers = &stream;
        for line in BufReader::new(&stream).lines() {
            let Ok(line) = line else { break };
            let reply = match serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&line)) {
                Ok(rules) => {
                    let rules: FaultRules = rules;
                    let n = rules.rules.len();
                    tracing::info!(rules = %describe(&rules), "fault rules from fare: {n}");
                    self.replace(rules);
                    Reply { ok: true, rules: n, error: None }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fault rules from fare refused");
                    Reply { ok: false, rules: self.state().rules.len(), error: Some(e.to_string()) }
                }
            };
            let mut line = serde_json::to_string(&reply).unwrap_or_default();
            line.push('\n');
            if answers.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        self.replace(FaultRules::default());
        tracing::info!("fare closed the fault hook: no faults from now on");
    }

    /// What to do with this delivery of `event` (`receive` counts from 1);
    /// `None`: handle it as usual. Decides once per delivery: a `fail` is
    /// counted, a `drop_follow_up` marks the event for the relay.
    pub fn decide(&self, event: &Envelope, receive: u32) -> Option<Injected> {
        if !self.enabled {
            return None;
        }
        let mut state = self.state();
        let action = state.rules.iter().find(|r| r.matches(event))?.action.clone();
        match action {
            FaultAction::Fail { times } => {
                let failures = state.failures.entry(event.id).or_default();
                (*failures < times).then(|| {
                    *failures += 1;
                    Injected::Fail { failure: *failures, of: Some(times) }
                })
            }
            FaultAction::FailAlways => Some(Injected::Fail { failure: receive, of: None }),
            FaultAction::DropFollowUp => {
                state.dropped.insert(event.id.to_string());
                Some(Injected::DropFollowUp)
            }
            FaultAction::Crash => (receive <= 1).then_some(Injected::Crash),
            FaultAction::Delay { ms } => Some(Injected::Delay(Duration::from_millis(ms))),
        }
    }

    /// Whether an event caused by `causation_id` is to be deleted from the
    /// outbox instead of published.
    pub fn drops(&self, causation_id: Option<&str>) -> bool {
        self.enabled && causation_id.is_some_and(|id| self.state().dropped.contains(id))
    }
}

/// Ends the process as a `crash` fault does.
pub fn crash() -> ! {
    std::process::exit(CRASH_EXIT_CODE)
}

fn describe(rules: &FaultRules) -> String {
    let each: Vec<String> = rules
        .rules
        .iter()
        .map(|r| match &r.correlation_id {
            Some(c) => format!("{}: {} in {c}", r.event, r.action),
            None => format!("{}: {}", r.event, r.action),
        })
        .collect();
    each.join("; ")
}

/// The hook on the descriptor `value` names, if it is an open Unix stream
/// socket; anything else is left alone (not closed) and enables nothing.
fn adopt(value: &str) -> Arc<Faults> {
    let Ok(fd) = value.trim().parse::<RawFd>() else {
        tracing::warn!("{FD_VAR}={value} is not a descriptor: no fault hook");
        return Faults::disabled();
    };
    if let Err(why) = unix_stream_socket(fd) {
        tracing::warn!("{FD_VAR}={fd} is not a socket fare handed down ({why}): no fault hook");
        return Faults::disabled();
    }
    // SAFETY: `fd` is an open Unix stream socket, handed down to be owned
    // by this process, and `inherited` adopts it once.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    // Not handed on to anything this process starts.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        libc::fcntl(stream.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
    tracing::info!("fault hook on {FD_VAR}={fd}: fare may inject handler faults in this run");
    Faults::listen(stream)
}

/// The hook on a connection to the Unix socket fare listens on at `path`;
/// disabled if nothing listens there.
fn connect(path: &std::path::Path) -> Arc<Faults> {
    match UnixStream::connect(path) {
        Ok(stream) => {
            tracing::info!("fault hook on {SOCKET_VAR}={}: fare may inject handler faults in this run", path.display());
            Faults::listen(stream)
        }
        Err(e) => {
            tracing::warn!(error = %e, "{SOCKET_VAR}={}: nothing listens there: no fault hook", path.display());
            Faults::disabled()
        }
    }
}

/// Why a handed-down descriptor is not the hook's socket.
#[derive(Debug, thiserror::Error)]
enum NotTheSocket {
    /// Not open, or not connected to a Unix-domain address.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not a socket")]
    NotASocket,
    #[error("not a stream socket")]
    NotAStream,
}

/// `Ok` if `fd` is an open, connected Unix-domain stream socket.
fn unix_stream_socket(fd: RawFd) -> Result<(), NotTheSocket> {
    // SAFETY: fstat and getsockopt only write into the buffers given, and a
    // descriptor that is not open is reported as an error.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut stat) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(NotTheSocket::NotASocket);
        }
        let mut kind: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        if libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&raw mut kind).cast(), &mut len) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        if kind != libc::SOCK_STREAM {
            return Err(NotTheSocket::NotAStream);
        }
        // std checks the address family: a TCP socket is refused here.
        let borrowed = std::mem::ManuallyDrop::new(UnixStream::from_raw_fd(fd));
        Ok(borrowed.peer_addr().map(|_| ())?)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::IntoRawFd;

    use super::*;
    use crate::CorrelationId;

    fn rules(json: &str) -> FaultRules {
        serde_json::from_str(json).unwrap()
    }

    fn hook(json: &str) -> Faults {
        let faults = Faults { enabled: true, state: Mutex::default() };
        faults.replace(rules(json));
        faults
    }

    fn event(event_type: &str, correlation_id: &str) -> Envelope {
        let (t, c) = (EventType::parse(event_type).unwrap(), CorrelationId::parse(correlation_id).unwrap());
        Envelope::new("test", t, c, None, &"x").unwrap()
    }

    #[test]
    fn the_line_format_reads_and_writes_back_the_same() {
        let text = r#"{"rules":[{"event":"device.allocated","action":"drop_follow_up","correlation_id":"e2e-x-1"},{"event":"order.placed","action":{"fail":{"times":2}}},{"event":"order.placed","action":{"delay":{"ms":1500}}},{"event":"order.placed","action":"fail_always"},{"event":"order.placed","action":"crash"}]}"#;
        let parsed = rules(text);
        assert_eq!(parsed.rules[1].action, FaultAction::Fail { times: 2 });
        assert_eq!(parsed.rules[2].action, FaultAction::Delay { ms: 1500 });
        assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
        assert!(serde_json::from_str::<FaultRules>(r#"{"rules":[{"event":"a.b","action":"explode"}]}"#).is_err());
        assert!(serde_json::from_str::<FaultRules>(r#"{"rules":[{"event":"A","action":"crash"}]}"#).is_err());
    }

    #[test]
    fn fail_counts_per_event_then_behaves() {
        let faults = hook(r#"{"rules":[{"event":"order.placed","action":{"fail":{"times":2}}}]}"#);
        let (a, b) = (event("order.placed", "c-1"), event("order.placed", "c-1"));
        assert_eq!(faults.decide(&a, 1), Some(Injected::Fail { failure: 1, of: Some(2) }));
        assert_eq!(faults.decide(&b, 1), Some(Injected::Fail { failure: 1, of: Some(2) }), "counted per event");
        assert_eq!(faults.decide(&a, 2), Some(Injected::Fail { failure: 2, of: Some(2) }));
        assert_eq!(faults.decide(&a, 3), None);
        // Replacing the rules keeps the count.
        faults.replace(rules(r#"{"rules":[{"event":"order.placed","action":{"fail":{"times":2}}}]}"#));
        assert_eq!(faults.decide(&a, 4), None);
        assert_eq!(faults.decide(&event("device.allocated", "c-1"), 1), None, "another event type");
    }

    #[test]
    fn a_rule_hits_its_chain_and_the_chains_under_it_only() {
        let faults = hook(r#"{"rules":[{"event":"order.placed","action":"fail_always","correlation_id":"e2e-x-1"}]}"#);
        let hit = |c: &str| faults.decide(&event("order.placed", c), 1).is_some();
        assert!(hit("e2e-x-1"));
        assert!(hit("e2e-x-1.other"));
        assert!(!hit("e2e-x-12"));
        assert!(!hit("e2e-x-2"));
        assert!(!hit("e2e-x"));
    }

    #[test]
    fn each_action_decides_as_documented() {
        let faults = hook(
            r#"{"rules":[
                {"event":"a.fails","action":"fail_always"},
                {"event":"a.crashes","action":"crash"},
                {"event":"a.waits","action":{"delay":{"ms":1500}}},
                {"event":"a.drops","action":"drop_follow_up"},
                {"event":"a.drops","action":"crash"}]}"#,
        );
        let fails = event("a.fails", "c");
        assert_eq!(faults.decide(&fails, 7), Some(Injected::Fail { failure: 7, of: None }));
        let crashes = event("a.crashes", "c");
        assert_eq!(faults.decide(&crashes, 1), Some(Injected::Crash));
        assert_eq!(faults.decide(&crashes, 2), None, "the redelivery after the crash is handled");
        assert_eq!(faults.decide(&event("a.waits", "c"), 1), Some(Injected::Delay(Duration::from_millis(1500))));
        let drops = event("a.drops", "c");
        assert!(!faults.drops(Some(&drops.id.to_string())));
        assert_eq!(faults.decide(&drops, 1), Some(Injected::DropFollowUp), "the first matching rule decides");
        assert!(faults.drops(Some(&drops.id.to_string())));
        assert!(!faults.drops(None));
        assert!(!faults.drops(Some(&fails.id.to_string())));
    }

    #[test]
    fn a_disabled_hook_decides_nothing() {
        let faults = Faults::disabled();
        faults.replace(rules(r#"{"rules":[{"event":"order.placed","action":"crash"}]}"#));
        assert_eq!(faults.decide(&event("order.placed", "c"), 1), None);
    }

    #[test]
    fn only_an_open_unix_stream_socket_enables_the_hook() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("not-a-socket")).unwrap();
        assert!(!adopt(&file.as_raw_fd().to_string()).is_enabled(), "a regular file");
        // Left open: the descriptor was not ours to close.
        (&file).write_all(b"still open").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(!adopt(&tcp.as_raw_fd().to_string()).is_enabled(), "a TCP socket");
        let (datagram, _other) = std::os::unix::net::UnixDatagram::pair().unwrap();
        assert!(!adopt(&datagram.as_raw_fd().to_string()).is_enabled(), "a datagram socket");
        assert!(!adopt("not a number").is_enabled());
        assert!(!adopt("100000").is_enabled(), "a descriptor that is not open");
        let (ours, theirs) = UnixStream::pair().unwrap();
        let faults = adopt(&theirs.into_raw_fd().to_string());
        assert!(faults.is_enabled(), "one end of a socket pair");
        let reply = send(&ours, &rules(r#"{"rules":[{"event":"order.placed","action":"crash"}]}"#), WAIT).unwrap();
        assert_eq!(reply, Reply { ok: true, rules: 1, error: None });
        assert_eq!(faults.decide(&event("order.placed", "c"), 1), Some(Injected::Crash));
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn a_hook_connects_to_the_socket_fare_listens_on_and_to_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hook.sock");
        assert!(!connect(&path).is_enabled(), "nothing listens there");
        std::fs::write(&path, "a file").unwrap();
        assert!(!connect(&path).is_enabled(), "a regular file");
        std::fs::remove_file(&path).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let faults = connect(&path);
        assert!(faults.is_enabled());
        let (ours, _) = listener.accept().unwrap();
        let reply = send(&ours, &rules(r#"{"rules":[{"event":"order.placed","action":"crash"}]}"#), WAIT).unwrap();
        assert_eq!(reply, Reply { ok: true, rules: 1, error: None });
        assert_eq!(faults.decide(&event("order.placed", "c"), 1), Some(Injected::Crash));
    }

    #[test]
    fn a_bad_request_is_refused_and_the_rules_stay() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let faults = Faults::listen(theirs);
        send(&ours, &rules(r#"{"rules":[{"event":"order.placed","action":"fail_always"}]}"#), WAIT).unwrap();
        (&ours).write_all(b"{\"rules\":[{\"event\":\"order.placed\",\"action\":\"explode\"}]}\n").unwrap();
        let mut answer = String::new();
        BufReader::new(&ours).read_line(&mut answer).unwrap();
        let reply: Reply = serde_json::from_str(&answer).unwrap();
        assert!(!reply.ok && reply.rules == 1, "{answer}");
        assert!(reply.error.unwrap().contains("rules[0].action"), "{answer}");
        assert!(faults.decide(&event("order.placed", "c"), 1).is_some());
        // fare gone: no faults any more.
        drop(ours);
        let deadline = std::time::Instant::now() + WAIT;
        while faults.decide(&event("order.placed", "c"), 1).is_some() {
            assert!(std::time::Instant::now() < deadline, "the rules outlived fare's end of the socket");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
