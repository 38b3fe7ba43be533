//! What a scenario sets before its first step, so that the first event
//! already meets it: the taps that duplicate events, the handler faults and
//! the filters; and undoing all of it, with the services a fault left
//! down, once the verdict is in.

use std::time::Instant;

use tokio::sync::Mutex;

use super::correlation_id;
use crate::runtime::Platform;
use crate::scenario::failure::Failure;
use crate::scenario::faults::{self, Tap};
use crate::scenario::model::{Fault, Scenario};
use crate::scenario::report::Line;
use crate::scenario::target::Target;
use crate::trace::InjectedFault;

/// A tap, the event it duplicates, how many more times, in which chain.
pub(super) type Taps = Vec<(Tap, kit::EventType, u32, String)>;

/// What [`arm`] set before the first step, for [`disarm`] to undo.
pub(super) struct Armed<'s> {
    /// The services whose fault hooks were given rules.
    hooked: Vec<&'s str>,
    /// The handler faults as recorded, to be recorded again when they end.
    handler_faults: Vec<InjectedFault>,
    /// The subscriptions whose filter policy was replaced.
    filtered: Vec<faults::Filtered>,
}

/// Sets what must be in place before the first event is published: the
/// taps that duplicate events, the handler faults and the filters. Returns
/// the taps, for `drive`, and what [`disarm`] undoes.
pub(super) async fn arm<'s>(
    target: &Target,
    s: &'s Scenario,
    base: &str,
    control: Option<&Mutex<&mut Platform>>,
    lines: &mut Vec<Line>,
) -> (Taps, Armed<'s>) {
    let taps = open_taps(target, s, base, lines).await;
    let (hooked, handler_faults) = set_handler_faults(target, s, base, control, lines).await;
    let filtered = filter_out(target, s, base, lines).await;
    (taps, Armed { hooked, handler_faults, filtered })
}

/// Undoes what [`arm`] set, once the verdict is in and whatever it is:
/// filters restored, the run's rules off the fault hooks (their faults
/// recorded as ended), and services a fault left down started again.
pub(super) async fn disarm(
    target: &Target,
    s: &Scenario,
    base: &str,
    control: Option<&Mutex<&mut Platform>>,
    armed: Armed<'_>,
    lines: &mut Vec<Line>,
) {
    for f in armed.filtered {
        let t = Instant::now();
        if let Err(e) = f.restore(target).await {
            lines.push(Line::new("restore a filtered subscription", t, Err(Failure::harness(&e))));
        }
    }
    let Some(control) = control else { return };
    let t = Instant::now();
    if let Err(e) = faults::clear_handlers(control, &armed.hooked, base).await {
        lines.push(Line::new("clear the handler faults", t, Err(Failure::harness(&e))));
    }
    for fault in armed.handler_faults {
        if let Err(e) = target.record_fault(&fault.ended()).await {
            lines.push(Line::new("record the handler faults' end", t, Err(Failure::harness(&e))));
        }
    }
    restore(s, *control.lock().await, lines).await;
}

/// Starts again what a fault stopped or killed and left down (its restart
/// never came, or the restart policy keeps it down): the diagnosis has seen
/// it down, the next scenario needs it up.
async fn restore(s: &Scenario, platform: &mut Platform, lines: &mut Vec<Line>) {
    for f in &s.file.faults {
        let (Fault::Stop { service, .. } | Fault::Kill { service, .. }) = f else { continue };
        if platform.is_running(service) {
            continue;
        }
        let t = Instant::now();
        if let Err(e) = platform.start_service(service).await {
            lines.push(Line::new(format!("restore {service}"), t, Err(Failure::harness(&e))));
        }
    }
}

/// Duplicates need their tap subscribed before the event is published.
async fn open_taps(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Taps {
    let mut taps = Vec::new();
    for f in &s.file.faults {
        if let Fault::Duplicate { event, times, chain } = f {
            let t = Instant::now();
            let cid = correlation_id(base, chain);
            match Tap::open(target, event, &cid).await {
                Ok(tap) => taps.push((tap, event.clone(), *times, cid)),
                Err(e) => lines.push(Line::new(format!("tap {event}"), t, Err(e.into()))),
            }
        }
    }
    taps
}

/// Handler faults are set before the first step, so the first event
/// already meets them; returns the services whose hooks were given rules,
/// and the faults as recorded (to be recorded again when they end).
async fn set_handler_faults<'s>(
    target: &Target,
    s: &'s Scenario,
    base: &str,
    control: Option<&Mutex<&mut Platform>>,
    lines: &mut Vec<Line>,
) -> (Vec<&'s str>, Vec<InjectedFault>) {
    let mut hooked = Vec::new();
    let mut recorded = Vec::new();
    for f in &s.file.faults {
        let Fault::Handler { service, on, action, chain } = f else { continue };
        let t = Instant::now();
        let done = faults::handler(target, control, service, on, action, &correlation_id(base, chain)).await;
        // Cleared at the end even if setting failed half-way.
        if !hooked.contains(&service.as_str()) {
            hooked.push(service.as_str());
        }
        let done = done.map(|(what, fault)| {
            recorded.push(fault);
            what
        });
        lines.push(Line::new(format!("fault: {f}"), t, done.map_err(|e| Failure::harness(&e))).in_chain(chain));
    }
    (hooked, recorded)
}

/// Filters are set before the first step, like handler faults; returns
/// what to restore once the verdict is in.
async fn filter_out(target: &Target, s: &Scenario, base: &str, lines: &mut Vec<Line>) -> Vec<faults::Filtered> {
    let mut filtered = Vec::new();
    for f in &s.file.faults {
        let Fault::FilterOut { service, on, chain } = f else { continue };
        let t = Instant::now();
        match faults::filter_out(target, service, on, &correlation_id(base, chain)).await {
            Ok(done) => {
                lines.push(Line::new(format!("fault: {f}"), t, Ok(done.to_string())).in_chain(chain));
                filtered.push(done);
            }
            Err(e) => lines.push(Line::new(format!("fault: {f}"), t, Err(e.into())).in_chain(chain)),
        }
    }
    filtered
}
