//! `fare doctor`: the probe suite against `--endpoint`, or against an
//! emulator it starts for the purpose and stops after: a process of its
//! own, or (`--runtime containers`) a container from the emulator's image,
//! reached through its mapped port, removed with its network after.

use std::path::Path;
use std::process::ExitCode;

use super::Cli;
use crate::doctor::ProbeResult;
use crate::runtime::Runtime;
use crate::runtime::containers::{Containers, ContainersOptions};

pub async fn doctor(cli: &Cli, root: &Path) -> anyhow::Result<ExitCode> {
    let ns = crate::doctor::namespace();
    let backend = cli.emulator();
    let show = crate::terminal::get().verbosity > crate::terminal::Verbosity::Quiet;
    let results = match (&cli.endpoint, cli.runtime) {
        (Some(endpoint), _) => {
            println!("probing {endpoint}");
            crate::doctor::run_in(&cli.endpoint, &ns).await?
        }
        (None, Runtime::Processes) => {
            let options = fare_emulator::StartOptions { backend, progress: show, ..Default::default() };
            let emulator = fare_emulator::Emulator::start(&options)?;
            println!("probing {} at {}", backend.name(), emulator.endpoint());
            crate::doctor::run_in(&Some(emulator.endpoint().to_owned()), &ns).await?
        }
        (None, Runtime::Containers) => {
            // Its log, and the container's label, under the probes' own namespace.
            let dir = crate::runtime::state_dir(root, &ns);
            crate::runtime::private_dir(&dir)?;
            let options = ContainersOptions {
                namespace: ns.as_str(),
                rebuild: cli.rebuild,
                emulator: Some(backend),
                logs: &dir,
                echo: false,
            };
            let mut progress = crate::terminal::progress;
            // Dropped at the end of this arm, with its network: nothing is left.
            let containers = Containers::start(&options, &mut progress).await?;
            let endpoint = containers.emulator_endpoint();
            let image = containers.images.emulator(backend).unwrap_or_default();
            let ready = containers.emulator_ready.unwrap_or_default();
            println!(
                "probing {} at {} (container of {image}, ready in {:.1} s)",
                backend.name(),
                endpoint.as_deref().unwrap_or_default(),
                ready.as_secs_f64()
            );
            let results = crate::doctor::run_in(&endpoint, &ns).await;
            drop(containers);
            let _ = std::fs::remove_dir_all(&dir);
            results?
        }
    };
    print_results(&results);
    Ok(if results.iter().all(|r| r.passed) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_results(results: &[ProbeResult]) {
    println!("{:<42} {:<6} {:>7}  DETAIL", "PROBE", "RESULT", "TIME");
    for r in results {
        let result = if r.passed { "ok" } else { "FAIL" };
        println!("{:<42} {:<6} {:>5}ms  {}", r.name, result, r.took.as_millis(), r.detail);
    }
}
