//! CPU time and resident memory of the processes of a run, read from
//! /proc. An emulator is counted with its descendants (it may run helpers
//! of its own); fare without its own, which are the platform.

use std::collections::BTreeMap;

use serde::Serialize;

/// A process to watch, by the name the report gives it.
#[derive(Debug, Clone)]
pub struct Watched {
    pub name: String,
    pub pid: u32,
    /// Count its descendants with it.
    pub descendants: bool,
}

impl Watched {
    pub fn alone(name: impl Into<String>, pid: u32) -> Watched {
        Watched { name: name.into(), pid, descendants: false }
    }

    pub fn with_descendants(name: impl Into<String>, pid: u32) -> Watched {
        Watched { name: name.into(), pid, descendants: true }
    }

    fn pids(&self, children: &BTreeMap<u32, Vec<u32>>) -> Vec<u32> {
        if self.descendants { tree(self.pid, children) } else { vec![self.pid] }
    }
}

/// CPU seconds so far of each watched process (and its descendants).
#[derive(Debug, Clone, Default)]
pub struct CpuSample(BTreeMap<String, f64>);

/// What one process used over a phase of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub name: String,
    pub pid: u32,
    /// User + system CPU seconds during the phase.
    pub cpu_seconds: f64,
    /// Resident memory at the end of the phase, and its peak over the
    /// process's life (VmHWM), in MB.
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
}

/// Reads the CPU seconds of every watched process now.
pub fn sample(watched: &[Watched]) -> CpuSample {
    let children = children();
    CpuSample(watched.iter().map(|w| (w.name.clone(), w.pids(&children).iter().map(|&p| cpu(p)).sum())).collect())
}

/// What each watched process used between `before` and now.
pub fn usage(watched: &[Watched], before: &CpuSample) -> Vec<Usage> {
    let children = children();
    let now = sample(watched);
    watched
        .iter()
        .map(|w| {
            let pids = w.pids(&children);
            let status = |key: &str| pids.iter().map(|&p| status_kb(p, key)).sum::<f64>() / 1024.0;
            Usage {
                name: w.name.clone(),
                pid: w.pid,
                cpu_seconds: now.0.get(&w.name).copied().unwrap_or(0.0) - before.0.get(&w.name).copied().unwrap_or(0.0),
                rss_mb: status("VmRSS:"),
                peak_rss_mb: status("VmHWM:"),
            }
        })
        .collect()
}

/// User + system CPU seconds of one process (fields 14 and 15 of its stat).
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / per_second
}

fn status_kb(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(key));
    line.and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap_or(0.0)
}

/// Parent pid → its children, for every process now.
fn children() -> BTreeMap<u32, Vec<u32>> {
    let mut map: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return map };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
        if let Some(ppid) = ppid {
            map.entry(ppid).or_default().push(pid);
        }
    }
    map
}

/// `pid` and its descendants.
fn tree(pid: u32, children: &BTreeMap<u32, Vec<u32>>) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children.get(&all[i]).into_iter().flatten());
        i += 1;
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_cpu_and_memory() {
        let me = [Watched::with_descendants("me", std::process::id())];
        let before = sample(&me);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let used = usage(&me, &before);
        assert!(used[0].cpu_seconds >= 0.0 && used[0].rss_mb > 0.0 && used[0].peak_rss_mb >= used[0].rss_mb);
    }
}
