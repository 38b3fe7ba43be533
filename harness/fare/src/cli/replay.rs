//! The seed of a run that injects faults or chooses at random (`fare e2e`,
//! `fare chaos`, `fare chaos --load`): printed when the run starts, its
//! choices kept under it when the run ends, and a replay (`--seed S`) held
//! against the run it replays.

use std::path::Path;

use crate::replay::{Choice, Choices, Divergence, Seed};

/// The run's seed: the one given, or a fresh one; printed either way.
pub(super) fn seed(given: Option<u64>, run: &str) -> Seed {
    let seed = Seed::new(given);
    let how = if given.is_some() { "replaying seed" } else { "seed" };
    crate::terminal::progress(&format!("{run}: {how} {seed}"));
    seed
}

/// The seed of a run of `scenarios`, if one of them injects faults.
pub(super) fn for_scenarios(scenarios: &[crate::scenario::Scenario], given: Option<u64>, run: &str) -> Option<Seed> {
    let faults = scenarios.iter().any(|s| !s.file.faults.is_empty());
    (faults || given.is_some()).then(|| seed(given, run))
}

/// Keeps `choices` under `seed` in `state_dir`; a replay of a run kept
/// there already is held against it instead. Returns where it diverged.
pub(super) fn keep(state_dir: &Path, run: &str, seed: Seed, replay: bool, choices: Vec<Choice>) -> Option<Divergence> {
    let choices = Choices { seed, run: run.to_owned(), choices };
    if replay && let Some(recorded) = Choices::recorded(state_dir, run, seed) {
        let diverged = choices.diverged_from(&recorded);
        match &diverged {
            Some(d) => eprintln!("fare: {d}"),
            None => crate::terminal::progress(&format!(
                "the replay of seed {seed} came out as the recorded run ({} choices)",
                choices.choices.len()
            )),
        }
        return diverged;
    }
    match choices.keep(state_dir) {
        Ok(path) => crate::terminal::progress(&format!(
            "seed {seed}: what it chose is in {}; `--seed {seed}` replays it",
            path.display()
        )),
        Err(e) => eprintln!("fare: could not keep the run's choices: {}", kit::error_chain(&e)),
    }
    None
}
