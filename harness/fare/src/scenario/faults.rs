//! Faults injected while a scenario runs: a service stopped, killed or
//! frozen when an event of the chain is seen and started or thawed again
//! later, the emulator frozen for a while, an event delivered twice, a
//! poison message on a queue, a handler that misbehaves (through the
//! service's fault hook). Each waits on a condition with a deadline, never
//! a fixed time; only a freeze lasts a set time, as that time is the fault.
//! Each is recorded ([`InjectedFault`]) when it takes effect and when it
//! ends, so that the diagnosis can name it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kit::EventType;
use kit::bus::{AwsError, TapQueue};
use kit::faults::{FaultAction, FaultRule, FaultRules};
use tokio::sync::Mutex;

use super::model::Fault;
use super::target::Target;
use crate::runtime::{Platform, Process, Settled, Settling};
use crate::trace::{Asked, FaultKind, InjectedFault};

const DEADLINE: Duration = Duration::from_secs(90);

/// How long a frozen service stays frozen beyond its queue's visibility
/// timeout, so the message it held is visible again before it thaws.
const PAST_VISIBILITY: Duration = Duration::from_secs(5);
/// How long the emulator stays frozen when a scenario does not say.
const EMULATOR_PAUSE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("`{event}` never appeared in chain {correlation_id} within {waited:?}")]
    NeverSeen { event: EventType, correlation_id: String, waited: Duration },
    #[error("`{event}` will not come in chain {correlation_id}: the platform settled without it ({waited:?})")]
    NeverComing { event: EventType, correlation_id: String, waited: Duration },
    #[error(transparent)]
    Record(#[from] super::target::RecordError),
    #[error(transparent)]
    Control(#[from] crate::runtime::ControlError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Bus(#[from] kit::bus::BusError),
    #[error("the tapped {event} is not an event envelope")]
    Tapped {
        event: EventType,
        #[source]
        source: kit::envelope::EnvelopeError,
    },
    #[error("publishing {event} again")]
    Publish {
        event: EventType,
        #[source]
        source: kit::bus::PublishError,
    },
    #[error("no topic {topic}; is the namespace provisioned?")]
    NoTopic { topic: String },
    #[error("{queue} is not subscribed to {topic}")]
    NotSubscribed { queue: String, topic: String },
    #[error(
        "a handler fault on {service} needs the platform this fare started (not --attach): only it holds the services' fault hooks"
    )]
    NoHook { service: String },
    #[error("`{what}` needs the platform this fare started (not --attach): only it holds the processes")]
    NoControl { what: String },
    #[error("`{what}` does not act on processes")]
    NotOnProcesses { what: String },
}

/// How often a wait looks at the platform to see whether it went quiet.
const QUIET_LOOK: Duration = Duration::from_millis(500);

/// When a wait may take a quiet (or stuck) platform as the answer "it will
/// never come": not while the steps still run (more will be asked of it),
/// and not while a fault holds one of its processes frozen (it is still
/// because it cannot move, and moves again once thawed).
#[derive(Debug, Default)]
pub struct Gate {
    steps_done: AtomicBool,
    frozen: AtomicUsize,
}

/// Who waits: a step (the steps before it are done) or a fault beside the
/// steps (it must also wait for the steps to be done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiter {
    Step,
    Fault,
}

impl Gate {
    /// Nothing more will be asked of the platform.
    pub fn steps_done(&self) {
        self.steps_done.store(true, Ordering::Relaxed);
    }

    fn frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed) > 0
    }

    fn may_judge(&self, waiter: Waiter) -> bool {
        !self.frozen() && (waiter == Waiter::Step || self.steps_done.load(Ordering::Relaxed))
    }

    /// Holds judgement until the guard is dropped.
    fn freeze(&self) -> Frozen<'_> {
        self.frozen.fetch_add(1, Ordering::Relaxed);
        Frozen(self)
    }
}

struct Frozen<'g>(&'g Gate);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.frozen.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Waits until `event` is in the chain's record. Fails at `deadline`, or as
/// soon as the platform is quiet (or stuck) without it once `gate` lets
/// `waiter` judge: then it will never come.
pub async fn seen(
    target: &Target,
    correlation_id: &str,
    event: &EventType,
    deadline: Duration,
    gate: &Gate,
    waiter: Waiter,
) -> Result<(), FaultError> {
    let started = Instant::now();
    let mut looked = Instant::now();
    let mut settling = Settling::new(&target.quiet);
    let has = |t: &crate::trace::Trace| t.of_type(event.as_str()).next().is_some();
    loop {
        if has(&target.trace(correlation_id, false).await?) {
            return Ok(());
        }
        if gate.frozen() {
            // What was pending before the freeze says nothing of after it.
            settling = Settling::new(&target.quiet);
        } else if looked.elapsed() >= QUIET_LOOK && gate.may_judge(waiter) {
            looked = Instant::now();
            // Quiet (or stuck) now; and the record, caught up, still lacks it.
            let mut verdict = target.look(&mut settling).await;
            if verdict == Settled::Busy {
                verdict = target.look(&mut settling).await;
            }
            if verdict != Settled::Busy && gate.may_judge(waiter) {
                if has(&target.trace(correlation_id, true).await?) {
                    return Ok(());
                }
                return Err(FaultError::NeverComing {
                    event: event.clone(),
                    correlation_id: correlation_id.to_owned(),
                    waited: started.elapsed(),
                });
            }
        }
        if started.elapsed() > deadline {
            return Err(FaultError::NeverSeen {
                event: event.clone(),
                correlation_id: correlation_id.to_owned(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where a fault that acts on processes happens: the platform it signals,
/// the chain whose events trigger it, and the gate its waits go through.
pub struct OnProcesses<'a, 'p> {
    pub target: &'a Target,
    pub control: &'a Mutex<&'p mut Platform>,
    pub correlation_id: &'a str,
    pub gate: &'a Gate,
}

impl OnProcesses<'_, '_> {
    /// How the fault was asked for, as the record keeps it: on this chain's events.
    fn asked(&self, when: Option<&EventType>) -> Asked {
        Asked { chain: Some(self.correlation_id.to_owned()), when: when.map(ToString::to_string), ..Asked::default() }
    }

    async fn once(&self, event: Option<&EventType>) -> Result<(), FaultError> {
        match event {
            Some(e) => seen(self.target, self.correlation_id, e, DEADLINE, self.gate, Waiter::Fault).await,
            None => Ok(()),
        }
    }
}

fn once_said(when: Option<&EventType>) -> String {
    when.map(|e| format!("once {e} was seen")).unwrap_or_else(|| "at the start".into())
}

/// Runs a fault that stops, kills or freezes a process.
pub async fn on_processes(at: &OnProcesses<'_, '_>, fault: &Fault) -> Result<String, FaultError> {
    match fault {
        Fault::Stop { service, when, restart_when, .. } => {
            take_down(at, service, Down::Stop, when.as_ref(), restart_when.as_ref()).await
        }
        Fault::Kill { service, when, restart_when, .. } => {
            take_down(at, service, Down::Kill, when.as_ref(), restart_when.as_ref()).await
        }
        Fault::Pause { process, when, seconds, .. } => pause(at, process, when.as_ref(), *seconds).await,
        Fault::Disconnect { process, when, seconds, .. } => disconnect(at, process, when.as_ref(), *seconds).await,
        other => Err(FaultError::NotOnProcesses { what: other.to_string() }),
    }
}

/// How a service is taken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Down {
    /// As an operator stops it (SIGTERM, it finishes what it holds); it
    /// stays stopped until started again.
    Stop,
    /// As a crash (SIGKILL): the restart policy brings it back, unless it is
    /// held down until a `restart_when`.
    Kill,
}

/// Takes `service` down once `when` is seen and, once `restart_when` is
/// seen (at once if unset), starts it again; a kill without `restart_when`
/// is left to the restart policy. Returns what it did, in words.
async fn take_down(
    at: &OnProcesses<'_, '_>,
    service: &str,
    how: Down,
    when: Option<&EventType>,
    restart_when: Option<&EventType>,
) -> Result<String, FaultError> {
    at.once(when).await?;
    let asked = Asked { restart_when: restart_when.map(ToString::to_string), ..at.asked(when) };
    let (did, fault) = match (how, restart_when) {
        (Down::Kill, None) => {
            let pid = at.control.lock().await.kill_service(service)?;
            let fault =
                InjectedFault::now(FaultKind::Kill, service, "was SIGKILLed, for the restart policy to bring back")
                    .asked(asked);
            at.target.record_fault(&fault).await?;
            // Down until the policy has it running again: a process of another pid.
            let who = Process::Service(service.to_owned());
            let back = kit::probe::wait_until(Instant::now() + DEADLINE, Duration::from_millis(100), || async {
                let now = at.control.lock().await.pid_of(&who).ok();
                Ok::<_, ()>(match now {
                    Some(again) if again != pid => kit::probe::Look::Ready(()),
                    _ => kit::probe::Look::Pending(()),
                })
            })
            .await;
            let said = match back {
                Ok(()) => {
                    at.target.record_fault(&fault.ended()).await?;
                    "back after the restart policy's start"
                }
                Err(_) => "not back within the deadline",
            };
            return Ok(format!("{service} (pid {pid}) SIGKILLed {}; {said}", once_said(when)));
        }
        (Down::Kill, Some(_)) => {
            let pid = at.control.lock().await.kill_and_hold(service).await?;
            (
                format!("(pid {pid}) SIGKILLed"),
                InjectedFault::now(FaultKind::Kill, service, "was SIGKILLed and held down").asked(asked),
            )
        }
        (Down::Stop, _) => {
            at.control.lock().await.stop_service(service).await?;
            ("stopped".to_owned(), InjectedFault::now(FaultKind::Stop, service, "was stopped").asked(asked))
        }
    };
    // Recorded open: if the restart never comes, it lasts.
    at.target.record_fault(&fault).await?;
    let down = Instant::now();
    at.once(restart_when).await?;
    at.control.lock().await.start_service(service).await?;
    at.target.record_fault(&fault.ended()).await?;
    let until = restart_when.map(|e| format!(" until {e}")).unwrap_or_default();
    Ok(format!("{service} {did} {}, down for {} ms{until}", once_said(when), down.elapsed().as_millis()))
}

/// SIGSTOPs `process` once `when` is seen and SIGCONTs it `seconds` later:
/// by default a service stays frozen past its queue's visibility timeout
/// (the message it held comes back while it hangs), the emulator 3 s.
pub async fn pause(
    at: &OnProcesses<'_, '_>,
    process: &Process,
    when: Option<&EventType>,
    seconds: Option<u64>,
) -> Result<String, FaultError> {
    let hold = match (seconds, process) {
        (Some(s), _) => Duration::from_secs(s),
        (None, Process::Emulator) => EMULATOR_PAUSE,
        (None, Process::Service(name)) => {
            let visibility = at.target.topology.service(name).and_then(|m| m.queue.as_ref());
            Duration::from_secs(visibility.map_or(30, |q| u64::from(q.visibility_timeout_seconds))) + PAST_VISIBILITY
        }
    };
    at.once(when).await?;
    let frozen = at.gate.freeze();
    let pid = at.control.lock().await.freeze(process).await?;
    let asked = Asked { seconds: Some(hold.as_secs()), ..at.asked(when) };
    let fault = InjectedFault::now(FaultKind::Pause, &process.to_string(), "was frozen").asked(asked);
    let recorded = at.target.record_fault(&fault).await;
    // The outage is the fault: its length is what is injected, not a wait.
    tokio::time::sleep(hold).await;
    let thawed = at.control.lock().await.thaw(process, pid).await;
    drop(frozen);
    thawed?;
    recorded?;
    at.target.record_fault(&fault.ended()).await?;
    Ok(format!("{process} (pid {pid}) frozen {} for {} s", once_said(when), hold.as_secs()))
}

/// How long a container stays cut off when a scenario does not say.
const DISCONNECTED: Duration = Duration::from_secs(5);

/// Cuts `process`'s container off the run's network once `when` is seen
/// and connects it again `seconds` later (5 s by default): it keeps
/// running, but reaches neither SNS/SQS nor the services, and nothing
/// reaches it. Judgement waits meanwhile, as during a freeze.
pub async fn disconnect(
    at: &OnProcesses<'_, '_>,
    process: &Process,
    when: Option<&EventType>,
    seconds: Option<u64>,
) -> Result<String, FaultError> {
    let hold = seconds.map_or(DISCONNECTED, Duration::from_secs);
    at.once(when).await?;
    let cut = at.gate.freeze();
    let pid = at.control.lock().await.set_connected(process, false).await?;
    let asked = Asked { seconds: Some(hold.as_secs()), ..at.asked(when) };
    let fault =
        InjectedFault::now(FaultKind::Disconnect, &process.to_string(), "was cut off from the network").asked(asked);
    let recorded = at.target.record_fault(&fault).await;
    // The outage is the fault: its length is what is injected, not a wait.
    tokio::time::sleep(hold).await;
    let back = at.control.lock().await.set_connected(process, true).await;
    drop(cut);
    back?;
    recorded?;
    at.target.record_fault(&fault.ended()).await?;
    Ok(format!("{process} (pid {pid}) cut off the network {} for {} s", once_said(when), hold.as_secs()))
}

/// A queue subscribed to one topic, for this chain only, so the runner sees
/// the chain's events as the services do.
pub struct Tap(TapQueue);

impl Tap {
    /// Subscribes a fresh queue to `event`'s topic, filtered on the chain.
    pub async fn open(target: &Target, event: &EventType, correlation_id: &str) -> Result<Tap, FaultError> {
        let name = format!("e2e-tap-{}", uuid::Uuid::new_v4().simple());
        let filter = serde_json::json!({ "correlation_id": [correlation_id] }).to_string();
        let topics = [target.bus.namespace.topic(event)];
        Ok(Tap(TapQueue::create(&target.bus, &name, &topics, Some(&filter)).await?))
    }

    /// Waits for the chain's event on the tap and publishes it `times` more
    /// times, exactly as it was (same id, same attributes).
    pub async fn duplicate(
        &self,
        target: &Target,
        event: &EventType,
        times: u32,
        correlation_id: &str,
    ) -> Result<String, FaultError> {
        let started = Instant::now();
        loop {
            if let Some(m) = self.0.receive(1).await?.into_iter().next() {
                let envelope = kit::Envelope::from_json(&m.body)
                    .map_err(|source| FaultError::Tapped { event: event.clone(), source })?;
                let traceparent = m.attributes.get("traceparent").cloned().unwrap_or_default();
                let publisher = target.bus.publisher(&envelope.producer);
                for _ in 0..times {
                    publisher
                        .publish_body(event, &envelope.correlation_id, &traceparent, &m.body, &envelope.id.to_string())
                        .await
                        .map_err(|source| FaultError::Publish { event: event.clone(), source })?;
                }
                let what = format!("had its {event} published {times} more time(s), with the same id");
                let asked = Asked { times: Some(times), ..Asked::default() };
                let fault = InjectedFault::now(FaultKind::Duplicate, &envelope.producer, what).asked(asked);
                target.record_fault(&fault.on(event).in_chain(correlation_id).blow()).await?;
                return Ok(format!("{event} {} published {times} more time(s)", envelope.id));
            }
            if started.elapsed() > DEADLINE {
                return Err(FaultError::NeverSeen {
                    event: event.clone(),
                    correlation_id: String::new(),
                    waited: started.elapsed(),
                });
            }
        }
    }

    pub async fn close(self) {
        self.0.remove().await
    }
}

async fn topic_arn(target: &Target, topic: &str) -> Result<String, FaultError> {
    target.bus.topic_arn(topic).await?.ok_or_else(|| FaultError::NoTopic { topic: topic.to_owned() })
}

/// Puts `body` on `service`'s queue, tagged with the chain's correlation id
/// so its dead letter is traced back to the scenario.
pub async fn poison(target: &Target, service: &str, body: &str, correlation_id: &str) -> Result<String, FaultError> {
    let queue = target.bus.namespace.queue(service);
    let url = target.bus.queue_url(&queue).await?;
    target.bus.send(&url, body, &[("correlation_id", correlation_id)]).await?;
    let asked = Asked { body: Some(kit::redact::text(body).into_owned()), ..Asked::default() };
    let fault = InjectedFault::now(FaultKind::Poison, service, "had a message no handler can read put on its queue")
        .asked(asked);
    target.record_fault(&fault.in_chain(correlation_id).blow()).await?;
    Ok(format!("poison put on {queue}"))
}

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

/// A subscription whose filter policy a `filter_out` fault replaced.
#[derive(Debug)]
pub struct Filtered {
    subscription_arn: String,
    /// The policy the manifest gives it; `None` when it has none.
    original: Option<String>,
    what: String,
    fault: InjectedFault,
}

impl std::fmt::Display for Filtered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl Filtered {
    /// Puts the manifest's filter policy back (or none).
    pub async fn restore(self, target: &Target) -> Result<(), FaultError> {
        set_filter(target, &self.subscription_arn, self.original.as_deref().unwrap_or("{}")).await?;
        Ok(target.record_fault(&self.fault.ended()).await?)
    }
}

/// Gives `service`'s subscription to `event` a filter policy that lets
/// every chain through but `correlation_id`: a mistaken filter, for one chain.
pub async fn filter_out(
    target: &Target,
    service: &str,
    event: &EventType,
    correlation_id: &str,
) -> Result<Filtered, FaultError> {
    let bus = &target.bus;
    let queue = bus.namespace.queue(service);
    let queue_url = bus.queue_url(&queue).await?;
    let queue_arn = bus.queue_arn(&queue_url).await?;
    let topic = bus.namespace.topic(event);
    let topic_arn = topic_arn(target, &topic).await?;
    let subscription_arn = bus
        .subscriptions(&topic_arn)
        .await?
        .into_iter()
        .find(|s| s.endpoint == queue_arn)
        .map(|s| s.arn)
        .ok_or_else(|| FaultError::NotSubscribed { queue: queue.clone(), topic: topic.clone() })?;
    let original = target
        .topology
        .service(service)
        .and_then(|m| m.listens.iter().find(|l| l.event == *event))
        .and_then(|l| l.filter.as_ref())
        .and_then(|f| serde_json::to_string(f).ok());
    let policy = serde_json::json!({ "correlation_id": [{ "anything-but": [correlation_id] }] }).to_string();
    set_filter(target, &subscription_arn, &policy).await?;
    let what = format!("{service}'s subscription to {event} filters chain {correlation_id} out");
    let done = format!("had its subscription to {event} filter the chain out");
    let fault = InjectedFault::now(FaultKind::FilterOut, service, done).on(event).in_chain(correlation_id);
    target.record_fault(&fault).await?;
    Ok(Filtered { subscription_arn, original, what, fault })
}

async fn set_filter(target: &Target, subscription_arn: &str, policy: &str) -> Result<(), FaultError> {
    Ok(target.bus.set_filter_policy(subscription_arn, policy).await?)
}
