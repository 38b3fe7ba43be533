//! Replaying a run that injected faults or chose at random. Each such run
//! has a [`Seed`]: every random choice of `chaos` and `scenario` is drawn
//! from the one generator it seeds ([`Seed::rng`]), so `--seed S` makes the
//! same choices again. What a run chose, and where in its chains each fault
//! struck, is kept under its seed ([`Choices`], in
//! `.fare/<namespace>/seeds/<run>-<seed>.json`); a replay is held against
//! what was kept and says where it first came out otherwise ([`Divergence`]).
//!
//! Ids (a run's, a chain's, a tap's) are not choices: they stay unique per
//! run, so a replay never mistakes the chains of the run it replays for its own.

use std::fmt;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::scenario::ScenarioReport;
use crate::trace::{InjectedFault, in_family};

/// What a run's random choices are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Seed(u64);

impl Seed {
    /// The seed given (`--seed S`, a replay), or a fresh one.
    pub fn new(given: Option<u64>) -> Seed {
        // The one draw not made from a seed: the seed itself.
        Seed(given.unwrap_or_else(rand::random))
    }

    pub fn value(self) -> u64 {
        self.0
    }

    /// The generator every random choice of the run is drawn from.
    pub fn rng(self) -> StdRng {
        StdRng::seed_from_u64(self.0)
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One choice a run made, or one moment a fault struck: `at` says where in
/// the run, `what` what was chosen or seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub at: String,
    pub what: String,
}

impl Choice {
    pub fn new(at: impl Into<String>, what: impl Into<String>) -> Choice {
        Choice { at: at.into(), what: what.into() }
    }
}

/// A run's seed and its choices, in the order it made them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choices {
    pub seed: Seed,
    /// Which command's run: `e2e`, `chaos`, `load`.
    pub run: String,
    pub choices: Vec<Choice>,
}

/// Where a replay first came out otherwise than the run it replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Divergence {
    pub seed: Seed,
    /// Where: the `at` of the first choice that differs.
    pub at: String,
    /// What the recorded run did there (`None`: it did nothing more).
    pub recorded: Option<String>,
    /// What the replay did there.
    pub replayed: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = |what: &Option<String>| what.clone().unwrap_or_else(|| "nothing".into());
        write!(
            f,
            "this replay of seed {} diverged from the recorded run at {}: recorded {}, now {}",
            self.seed,
            self.at,
            said(&self.recorded),
            said(&self.replayed)
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct ChoicesError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl Choices {
    /// Where the choices of `run` with `seed` are kept under a namespace's directory.
    pub fn path(state_dir: &Path, run: &str, seed: Seed) -> PathBuf {
        state_dir.join("seeds").join(format!("{run}-{seed}.json"))
    }

    /// The choices kept for `run` with `seed`, if a run kept them.
    pub fn recorded(state_dir: &Path, run: &str, seed: Seed) -> Option<Choices> {
        let text = std::fs::read_to_string(Choices::path(state_dir, run, seed)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Keeps these choices under their seed; returns where.
    pub fn keep(&self, state_dir: &Path) -> Result<PathBuf, ChoicesError> {
        let path = Choices::path(state_dir, &self.run, self.seed);
        let error = |source| ChoicesError { path: path.clone(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text).map_err(error)?;
        Ok(path)
    }

    /// Where these choices first differ from `recorded`'s, if they do.
    pub fn diverged_from(&self, recorded: &Choices) -> Option<Divergence> {
        let n = self.choices.len().max(recorded.choices.len());
        (0..n).find_map(|i| {
            let (was, now) = (recorded.choices.get(i), self.choices.get(i));
            (was != now).then(|| Divergence {
                seed: self.seed,
                at: now.or(was).map(|c| c.at.clone()).unwrap_or_default(),
                recorded: was.map(|c| c.what.clone()),
                replayed: now.map(|c| c.what.clone()),
            })
        })
    }
}

/// Where each fault of the scenarios struck: which service (or the
/// emulator), once which event of its chain was seen, what that service
/// had published in the chain by then, and for how long. These are what a
/// replay of a run with faults must come out the same on; events of other
/// branches of the chain, which arrive in any order, are not.
pub fn fault_moments<'r>(reports: impl IntoIterator<Item = &'r ScenarioReport>) -> Vec<Choice> {
    let mut out = Vec::new();
    for s in reports {
        // Faults on processes hit every chain: theirs is the one they waited on.
        let chain_of = |f: &InjectedFault| {
            let chain = f.correlation_id.clone().or_else(|| f.asked.as_ref().and_then(|a| a.chain.clone()))?;
            in_family(&chain, &s.correlation_id).then_some(chain)
        };
        let mut faults: Vec<(&InjectedFault, String)> = Vec::new();
        for f in s.chains.iter().flat_map(|c| &c.trace.faults) {
            if let Some(chain) = chain_of(f).filter(|_| !faults.iter().any(|(k, _)| k.id == f.id)) {
                faults.push((f, chain));
            }
        }
        faults.sort_by_key(|(f, _)| f.from_unix_nanos);
        for (f, chain) in faults {
            out.push(Choice::new(format!("{}: {} {}", s.name, f.kind, f.target), moment(s, f, &chain)));
        }
    }
    out
}

/// `once device.allocated was seen; fulfillment had published nothing; for 5 s`.
fn moment(s: &ScenarioReport, f: &InjectedFault, chain: &str) -> String {
    let asked = f.asked.clone().unwrap_or_default();
    let when = asked.when.map_or_else(|| "at the start".to_owned(), |e| format!("once {e} was seen"));
    let mut published: Vec<&str> = s
        .chains
        .iter()
        .filter(|c| c.correlation_id == chain)
        .flat_map(|c| &c.trace.events)
        .filter(|e| e.producer == f.target && e.occurred_at.unix_timestamp_nanos().max(0) as u64 <= f.from_unix_nanos)
        .map(|e| e.event_type.as_str())
        .collect();
    published.sort_unstable();
    let published = if published.is_empty() { "nothing".to_owned() } else { published.join(", ") };
    let mut what = format!("{when}; {} had published {published}", f.target);
    if let Some(seconds) = asked.seconds {
        what.push_str(&format!("; for {seconds} s"));
    }
    if let Some(until) = asked.restart_when {
        what.push_str(&format!("; held down until {until}"));
    }
    what
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(seed: u64, list: &[(&str, &str)]) -> Choices {
        let choices = list.iter().map(|(at, what)| Choice::new(*at, *what)).collect();
        Choices { seed: Seed::new(Some(seed)), run: "load".into(), choices }
    }

    #[test]
    fn a_replay_names_the_first_choice_that_came_out_otherwise() {
        let recorded = choices(7, &[("kill 1", "store after 12"), ("kill 2", "users after 30")]);
        assert_eq!(recorded.diverged_from(&recorded), None);
        let replay = choices(7, &[("kill 1", "store after 12"), ("kill 2", "users after 33")]);
        let d = replay.diverged_from(&recorded).unwrap();
        assert_eq!(
            (d.at.as_str(), d.recorded.as_deref(), d.replayed.as_deref()),
            ("kill 2", Some("users after 30"), Some("users after 33"))
        );
        assert!(d.to_string().contains("diverged from the recorded run at kill 2"), "{d}");
        let shorter = choices(7, &[("kill 1", "store after 12")]);
        assert_eq!(shorter.diverged_from(&recorded).unwrap().replayed, None, "a kill the replay never made");
    }

    /// A scenario whose chain saw `events` (type, producer, at) and whose
    /// fulfillment was killed at 10 once device.allocated was seen.
    fn killed(events: &[(&str, &str, u64)]) -> ScenarioReport {
        use crate::scenario::report::ChainReport;
        use crate::trace::{Asked, EventNode, FaultKind, Trace};
        let at = |nanos: u64| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).unwrap();
        let events = events
            .iter()
            .enumerate()
            .map(|(i, (t, by, when))| EventNode {
                id: i.to_string(),
                event_type: (*t).into(),
                producer: (*by).into(),
                causation_id: None,
                occurred_at: at(*when),
                receipts: Vec::new(),
                children: Vec::new(),
            })
            .collect();
        let asked = Asked { chain: Some("c-1".into()), when: Some("device.allocated".into()), ..Asked::default() };
        let mut kill = InjectedFault::now(FaultKind::Kill, "fulfillment", "was SIGKILLed").asked(asked);
        kill.from_unix_nanos = 10;
        let trace = Trace {
            correlation_id: "c-1".into(),
            events,
            roots: Vec::new(),
            requests: Vec::new(),
            dead_letters: Vec::new(),
            exits: Vec::new(),
            faults: vec![kill],
        };
        let chain = ChainReport { label: "main".into(), correlation_id: "c-1".into(), trace, diff: None };
        ScenarioReport {
            name: "killed".into(),
            file: Default::default(),
            description: String::new(),
            correlation_id: "c-1".into(),
            outcome: crate::scenario::Outcome::Failed,
            took: Default::default(),
            quiet_after: None,
            steps: Vec::new(),
            checks: Vec::new(),
            chains: vec![chain],
            dead_letters: Vec::new(),
            diagnosis: Vec::new(),
            verdict_after: None,
            secrets: Vec::new(),
        }
    }

    #[test]
    fn a_fault_that_struck_later_in_its_services_work_is_where_a_replay_diverges() {
        let seed = Seed::new(Some(1));
        let of = |report: &ScenarioReport| Choices { seed, run: "e2e".into(), choices: fault_moments([report]) };
        let recorded = of(&killed(&[("order.placed", "store", 1), ("device.allocated", "devices", 5)]));
        assert_eq!(recorded.choices[0].what, "once device.allocated was seen; fulfillment had published nothing");
        // Other branches arrive in any order: no divergence.
        let other_branch = killed(&[
            ("invoice.issued", "invoice", 9),
            ("order.placed", "store", 1),
            ("device.allocated", "devices", 5),
        ]);
        assert_eq!(of(&other_branch).diverged_from(&recorded), None);
        // The kill came after fulfillment had done its work: that is where.
        let late = killed(&[
            ("order.placed", "store", 1),
            ("device.allocated", "devices", 5),
            ("shipment.requested", "fulfillment", 8),
        ]);
        let d = of(&late).diverged_from(&recorded).unwrap();
        assert_eq!(d.at, "killed: kill fulfillment");
        assert!(d.replayed.unwrap().ends_with("fulfillment had published shipment.requested"));
    }

    #[test]
    fn choices_are_kept_under_their_seed() {
        let dir = tempfile::tempdir().unwrap();
        let kept = choices(42, &[("kill 1", "store")]);
        let path = kept.keep(dir.path()).unwrap();
        assert!(path.ends_with("seeds/load-42.json"), "{}", path.display());
        assert_eq!(Choices::recorded(dir.path(), "load", Seed::new(Some(42))), Some(kept));
        assert_eq!(Choices::recorded(dir.path(), "load", Seed::new(Some(43))), None);
    }
}
