//! Benchmark: how long `fare up` takes to bring the whole platform to ready
//! (emulator, provisioning, fakes, eight services) against the emulator's own
//! start in the same run, and the platform's resident memory.
//!
//! `cargo run -p fare --example bench_up [ROUNDS]` (default 5, after one
//! unmeasured round that builds the services).

use std::path::PathBuf;
use std::time::Instant;

use fare::runtime::{Platform, UpOptions};
use kit::bus::Namespace;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(5);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize()?;
    let mut options = UpOptions::new(&root, Namespace::parse("bench")?);
    // One unmeasured round builds the services and warms the caches.
    Platform::up(&options, &mut |line| eprintln!("warm-up: {line}")).await?.stop();
    options.build = false;
    let (mut emulator_ms, mut up_ms, mut services_mb, mut emulator_mb) = (vec![], vec![], vec![], vec![]);
    for round in 1..=rounds {
        let emulator = fare_emulator::Emulator::start(&fare_emulator::StartOptions::default())?;
        emulator_ms.push(emulator.ready_after().as_secs_f64() * 1000.0);
        drop(emulator);
        let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root, &options.namespace));
        let started = Instant::now();
        let platform = Platform::up(&options, &mut |_| {}).await?;
        up_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        services_mb.push(platform.state.services.iter().map(|s| rss_mb(s.pid)).sum::<f64>());
        emulator_mb.push(platform.state.emulator_pid.map(rss_mb).unwrap_or(0.0));
        println!(
            "round {round}: emulator alone {:.0} ms, whole platform {:.0} ms, services {:.1} MB, emulator {:.1} MB",
            emulator_ms[round - 1],
            up_ms[round - 1],
            services_mb[round - 1],
            emulator_mb[round - 1]
        );
        platform.stop();
    }
    let (e, u) = (median(&mut emulator_ms), median(&mut up_ms));
    println!("median of {rounds}: emulator alone {e:.0} ms; platform ready {u:.0} ms ({:.2}x the emulator)", u / e);
    println!(
        "median resident memory: 8 services {:.1} MB, emulator {:.1} MB",
        median(&mut services_mb),
        median(&mut emulator_mb)
    );
    let _ = std::fs::remove_dir_all(fare::runtime::state_dir(&root, &options.namespace));
    Ok(())
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Resident memory of a process (and, for Python, its children are not counted).
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}
