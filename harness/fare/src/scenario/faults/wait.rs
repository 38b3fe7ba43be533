//! Waiting for an event of a chain: until it is in the record, until a
//! deadline, or until the platform is quiet without it, which says it will
//! never come. The [`Gate`] says when a quiet platform may be taken as that
//! answer; a fault that freezes a process holds it shut meanwhile.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kit::EventType;

use super::FaultError;
use crate::runtime::{Settled, Settling};
use crate::scenario::target::Target;

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
    pub(super) fn freeze(&self) -> Frozen<'_> {
        self.frozen.fetch_add(1, Ordering::Relaxed);
        Frozen(self)
    }
}

pub(super) struct Frozen<'g>(&'g Gate);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_judges_once_the_steps_are_done_and_nobody_while_a_process_is_frozen() {
        let gate = Gate::default();
        assert!(gate.may_judge(Waiter::Step));
        assert!(!gate.may_judge(Waiter::Fault));
        gate.steps_done();
        assert!(gate.may_judge(Waiter::Fault));
        let frozen = gate.freeze();
        let cut = gate.freeze();
        assert!(!gate.may_judge(Waiter::Step) && !gate.may_judge(Waiter::Fault));
        drop(frozen);
        assert!(!gate.may_judge(Waiter::Step), "one process is still held");
        drop(cut);
        assert!(gate.may_judge(Waiter::Step) && gate.may_judge(Waiter::Fault));
    }
}
