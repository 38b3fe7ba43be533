//! `fare up`, `status`, `down` and `quiet`.

use std::path::Path;
use std::process::{Command as Process, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use kit::bus::Namespace;
use kit::probe::Look;

use super::Cli;
use crate::runtime::containers::Wanted;
use crate::runtime::{
    ControlSocket, Platform, PlatformState, QuietOptions, RestartOptions, RestartPolicy, ServiceStatus, StateError,
    SupervisorEvent, TICK, UpOptions, state_dir, wait_quiet,
};

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Start in the background and return once everything is ready.
    #[arg(long)]
    detach: bool,
    /// Skip `cargo build` (the binaries in target/debug must be current).
    #[arg(long)]
    no_build: bool,
    /// Set a var of a fake for this run, as `carrier.polls_until_delivered=3`
    /// (FAKE.VAR=VALUE; repeatable; each fake's file lists its vars).
    #[arg(long = "fake-var", value_name = "FAKE.VAR=VALUE", value_parser = parse_fake_var)]
    fake_vars: Vec<(String, String)>,
    /// Seconds to wait for every service to be ready.
    #[arg(long, default_value_t = 60)]
    ready_timeout: u64,
    #[command(flatten)]
    restart: RestartArgs,
}

/// The restart policy, for `fare up` and `fare e2e`.
#[derive(Debug, Clone, clap::Args)]
pub struct RestartArgs {
    /// What to do when a service dies: start it again (backoff from 0.5 s
    /// doubling to 10 s; kept down after 5 restarts within 60 s), or keep it
    /// down for inspection.
    #[arg(long = "restart", value_enum, default_value_t = RestartPolicy::OnFailure, env = "FARE_RESTART")]
    pub policy: RestartPolicy,
}

impl RestartArgs {
    pub fn options(&self) -> RestartOptions {
        RestartOptions { policy: self.policy, ..RestartOptions::default() }
    }
}

pub async fn up(cli: &Cli, root: &Path, ns: Namespace, args: &UpArgs) -> anyhow::Result<ExitCode> {
    if args.detach {
        return detach(root, &ns);
    }
    let options = UpOptions {
        services_dir: cli.services.clone(),
        endpoint: cli.endpoint.clone(),
        backend: cli.backend(),
        build: !args.no_build,
        echo_logs: std::env::var_os("FARE_SUPERVISED").is_none(),
        fake_vars: args.fake_vars.iter().cloned().collect(),
        ready_timeout: Duration::from_secs(args.ready_timeout),
        restart: args.restart.options(),
        runtime: cli.runtime,
        rebuild: cli.rebuild,
        profile: cli.profile.clone(),
        ..UpOptions::new(root, ns)
    };
    let started = Instant::now();
    // A signal during start-up drops the half-built platform, which stops
    // whatever it had started.
    let mut progress = crate::terminal::progress;
    let mut platform = tokio::select! {
        platform = Platform::up(&options, &mut progress) => platform?,
        _ = kit::shutdown_signal() => {
            eprintln!("fare: interrupted during start-up; stopped everything");
            return Ok(ExitCode::from(2));
        }
    };
    progress(&format!("ready in {:.1}s", started.elapsed().as_secs_f64()));
    print_table(&platform.state);
    let socket = ControlSocket::bind(root, &platform.state.namespace)?;
    progress(&format!(
        "Ctrl-C stops everything; logs are in {}; a service that dies is {}",
        state_dir(root, &platform.state.namespace).join("logs").display(),
        match options.restart.policy {
            RestartPolicy::OnFailure => "started again",
            RestartPolicy::Never => "kept down (--restart never)",
        }
    ));
    let shutdown = kit::shutdown_signal();
    tokio::pin!(shutdown);
    let mut deaths = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            client = socket.accept() => match client {
                Ok(stream) => crate::runtime::serve(stream, &mut platform).await,
                Err(e) => eprintln!("fare: the control socket {}: {e}", socket.path().display()),
            },
            _ = tokio::time::sleep(TICK) => {
                for event in platform.supervise_once().await {
                    deaths += usize::from(matches!(event, SupervisorEvent::Died { .. }));
                    eprintln!("fare: {event}");
                }
            }
        }
    }
    drop(socket);
    progress("stopping");
    stop(platform).await;
    progress("stopped; nothing left running");
    // A service that crashed is a check that failed, even if it came back.
    if deaths > 0 {
        eprintln!("fare: {deaths} service exit(s) nobody asked for during this run (above)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops `platform`, and says so if spans meant for the user's OTLP
/// collector were lost on the way (fare's own record has them all). The
/// record of the run, with what the fakes answered, is left in its
/// namespace's directory, for `fare contracts coverage` and `fare trace`.
pub(super) async fn stop(platform: Platform) {
    // Without a copy to write, nothing can fail.
    let _ = stop_keeping(platform, Keep::default()).await;
}

/// What the run's record says it is of, and where else it goes.
#[derive(Debug, Default)]
pub(super) struct Keep<'a> {
    /// The scenarios run, by name.
    pub scenarios: Vec<String>,
    /// A copy, for a CI job to pick up (`fare e2e --record FILE`).
    pub copy: Option<&'a Path>,
}

/// [`stop`], with the record as `keep` says; `Err` when its copy could
/// not be written (the platform is stopped all the same).
pub(super) async fn stop_keeping(platform: Platform, keep: Keep<'_>) -> anyhow::Result<()> {
    let forwarded = platform.recorder().and_then(|r| r.forwarded());
    let mut copied = Ok(());
    match platform.recorder() {
        Some(recorder) => {
            let mut record = crate::trace::SavedRecord { scenarios: keep.scenarios, ..recorder.saved() };
            // The fakes keep what they answered: it goes when they stop.
            let fakes: Vec<(String, String)> =
                platform.state.fakes.iter().map(|f| (f.name.clone(), f.url.clone())).collect();
            record.add_fakes(&fakes).await;
            let path = platform.state_dir().join(crate::trace::SavedRecord::FILE);
            match record.write(&path) {
                Ok(()) => crate::terminal::progress(&format!("the run's record in {}", path.display())),
                Err(e) => eprintln!("fare: could not keep the run's record: {}", kit::error_chain(&e)),
            }
            if let Some(copy) = keep.copy {
                copied = record.write(copy).context("--record");
                if copied.is_ok() {
                    crate::terminal::progress(&format!("the run's record also in {}", copy.display()));
                }
            }
        }
        None if keep.copy.is_some() => copied = Err(anyhow::anyhow!("--record: this platform ran without a recorder")),
        None => {}
    }
    platform.stop();
    if let Some(f) = forwarded.filter(|f| f.failed + f.dropped > 0) {
        eprintln!(
            "fare: span exports to your OTLP collector: {} sent, {} failed, {} dropped (fare's own record is complete)",
            f.sent, f.failed, f.dropped
        );
    }
    copied
}

/// Runs `fare up` as a background supervisor and waits until it is ready.
fn detach(root: &Path, ns: &Namespace) -> anyhow::Result<ExitCode> {
    let dir = state_dir(root, ns);
    crate::runtime::private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join("up.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--detach").collect();
    let mut cmd = Process::new(std::env::current_exe().context("finding fare's own binary")?);
    cmd.args(&args).env("FARE_SUPERVISED", "1").stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the supervisor from
    // this terminal so it outlives this command.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the supervisor")?;
    crate::terminal::progress(&format!("starting in the background (progress in {})", log_path.display()));
    let started = Instant::now();
    let pid = child.id();
    let ready = || PlatformState::load(root, ns).is_ok_and(|state| state.supervisor_pid == pid);
    let why = match wait_detached(&mut child, DETACH_DEADLINE, ready)? {
        Detached::Ready => {
            let state = PlatformState::load(root, ns)?;
            crate::terminal::progress(&format!("ready in {:.1}s", started.elapsed().as_secs_f64()));
            print_table(&state);
            crate::terminal::progress("`fare down` stops it");
            return Ok(ExitCode::SUCCESS);
        }
        Detached::Exited(status) => format!("the platform did not start ({status})"),
        Detached::TimedOut => format!("the platform was not ready within {DETACH_DEADLINE:?}; it was stopped"),
    };
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
    eprintln!("fare: {why}");
    Ok(ExitCode::from(2))
}

/// How long `fare up --detach` waits for its supervisor: a first run builds
/// every service and installs the emulator (each install step has its own
/// ten minutes), a later one takes seconds.
const DETACH_DEADLINE: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, PartialEq)]
enum Detached {
    Ready,
    Exited(std::process::ExitStatus),
    /// Not ready in time: the supervisor and its session were stopped.
    TimedOut,
}

/// Waits until `ready`, the supervisor's exit, or `deadline`; past it, the
/// supervisor's whole session (it is a session leader) is killed, so
/// nothing it started is left behind.
fn wait_detached(
    child: &mut std::process::Child,
    deadline: Duration,
    mut ready: impl FnMut() -> bool,
) -> std::io::Result<Detached> {
    let started = Instant::now();
    loop {
        if ready() {
            return Ok(Detached::Ready);
        }
        if let Some(status) = child.try_wait()? {
            return Ok(Detached::Exited(status));
        }
        if started.elapsed() >= deadline {
            // SIGTERM first: the supervisor stops what it started on it.
            crate::runtime::signal_group(child.id(), libc::SIGTERM);
            let grace = Instant::now();
            while child.try_wait()?.is_none() && grace.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(100));
            }
            crate::runtime::signal_group(child.id(), libc::SIGKILL);
            child.wait()?;
            return Ok(Detached::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn print_table(state: &PlatformState) {
    println!("{:<20} {:<28} {:>8}", "WHAT", "WHERE", "PID");
    let emulator = state.endpoint.clone().unwrap_or_else(|| "AWS".into());
    let pid = state.emulator_pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    println!("{:<20} {:<28} {:>8}", "sns/sqs", emulator, pid);
    for s in &state.services {
        println!("{:<20} {:<28} {:>8}", s.name, s.url, s.pid);
    }
    for f in &state.fakes {
        println!("{:<20} {:<28} {:>8}", format!("{} (fake)", f.name), f.url, "-");
    }
    println!("namespace {}", state.namespace);
}

pub async fn status(root: &Path, ns: &Namespace, json: bool) -> anyhow::Result<ExitCode> {
    let state = match PlatformState::load(root, ns) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("fare: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build()?;
    let mut healthy = Vec::new();
    // Events a service's relay could not publish and moved aside.
    let mut set_aside = Vec::new();
    for s in &state.services {
        let ok = crate::runtime::look_ready(&http, &s.name, &s.url, &s.ready).await == Look::Ready(());
        healthy.push(ok);
        let pending = http.get(format!("{}/pending", s.url)).send().await;
        let in_hand = match pending {
            Ok(r) if r.status().is_success() => r.json::<kit::probe::InHand>().await.ok(),
            _ => None,
        };
        set_aside.push(in_hand.map(|p| p.outbox_dead));
    }
    if json {
        crate::json::print(&crate::json::StatusDoc::new(&state, &healthy, &set_aside))?;
    } else {
        println!("{:<12} {:<28} {:>8}  {:<5}  {:>8}  STATE", "SERVICE", "URL", "PID", "READY", "RESTARTS");
        for (s, ok) in state.services.iter().zip(&healthy) {
            let ready = if *ok { "yes" } else { "NO" };
            let pid = if s.status == ServiceStatus::Running { s.pid.to_string() } else { "-".into() };
            println!("{:<12} {:<28} {pid:>8}  {ready:<5}  {:>8}  {}", s.name, s.url, s.restarts, s.status);
        }
        for (s, aside) in state.services.iter().zip(&set_aside) {
            if let Some(n @ 1..) = aside {
                println!(
                    "{}: {n} outbox event(s) could not be published and were moved aside (fare_outbox_dead in {})",
                    s.name,
                    s.log
                        .with_file_name("")
                        .parent()
                        .map(|p| p.join("data").join(format!("{}.sqlite", s.name)))
                        .unwrap_or_default()
                        .display()
                );
            }
        }
        println!("sns/sqs at {}; --restart {}", state.endpoint.as_deref().unwrap_or("AWS"), state.restart);
    }
    Ok(if healthy.iter().all(|ok| *ok) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub async fn down(root: &Path, ns: &Namespace) -> anyhow::Result<ExitCode> {
    let state = match PlatformState::load(root, ns) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("fare: {e}");
            if matches!(e, StateError::Stale { .. }) {
                // Its services stopped with it (each dies with its parent);
                // its state file and operator token open nothing any more.
                PlatformState::remove(root, ns);
                crate::terminal::progress(&format!("cleared the state of namespace {ns}"));
            }
            remove_leftovers(ns).await?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    // `load` checked that the pid is still the supervisor fare started (its
    // start time); `terminate` checks it again before each signal. The
    // supervisor stops its services within its own grace: past ours, it is stuck.
    let pid = state.supervisor_pid;
    let grace = Duration::from_secs(30);
    let stopped = crate::runtime::terminate(pid, || state.supervisor_is_running(), grace)
        .await
        .with_context(|| format!("stopping the supervisor (pid {pid})"))?;
    if stopped == crate::runtime::Stopped::Killed {
        eprintln!("fare: the supervisor (pid {pid}) did not stop within {grace:?} and was killed");
    }
    crate::terminal::progress(&format!("stopped namespace {ns}"));
    remove_leftovers(ns).await?;
    Ok(ExitCode::SUCCESS)
}

/// Removes the containers, networks and volumes labelled with `ns` (a
/// `fare up --runtime containers` killed before it could). Without a
/// container engine there is nothing to remove.
async fn remove_leftovers(ns: &Namespace) -> anyhow::Result<()> {
    let Ok(engine) = crate::runtime::containers::Engine::get().await else { return Ok(()) };
    for removed in engine.remove_labelled(ns.as_str()).await? {
        crate::terminal::progress(&format!("removed {removed}"));
    }
    Ok(())
}

/// `fare images`: builds the images container mode needs (the base, which
/// runs every service's command, and each emulator's), if missing (all of
/// them with `--rebuild`), and lists them.
pub async fn images(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut progress = crate::terminal::progress;
    // Every emulator's image: `--emulator` picks one when the platform starts.
    let wanted = Wanted { emulators: &fare_emulator::Backend::ALL };
    let (_, infos) = crate::runtime::containers::images::ensure(&wanted, cli.rebuild, &mut progress).await?;
    println!("{:<32} {:>8}  {:<6} {:>8}", "IMAGE", "SIZE", "", "TOOK");
    for i in infos {
        let how = if i.built { "built" } else { "found" };
        println!("{:<32} {:>5} MB  {how:<6} {:>6.1} s", i.reference, i.size / 1_000_000, i.took.as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn quiet(root: &Path, ns: &Namespace, timeout: u64) -> anyhow::Result<ExitCode> {
    let state = PlatformState::load(root, ns)?;
    let bus = crate::connect(&state.endpoint, ns).await?;
    let services: Vec<(String, String)> = state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
    let options = QuietOptions { timeout: Duration::from_secs(timeout), ..QuietOptions::default() };
    match wait_quiet(&bus, &services, &options).await {
        Ok(took) => {
            println!("quiet after {} ms", took.as_millis());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("fare: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `FAKE.VAR=VALUE`, split at the first `=`.
// The error is text: clap shows it as its message for the argument.
fn parse_fake_var(given: &str) -> Result<(String, String), String> {
    match given.split_once('=') {
        Some((name, value)) if name.contains('.') => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{given}`: expected FAKE.VAR=VALUE, as `carrier.polls_until_delivered=3`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_supervisor_never_ready_is_stopped_at_the_deadline_with_all_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let mut cmd = Process::new("sh");
        cmd.arg("-c").arg(format!("sleep 60 & echo $! > {}; wait", pid_file.display()));
        // SAFETY: as `detach` does: setsid is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let outcome = wait_detached(&mut child, Duration::from_secs(1), || false).unwrap();
        assert_eq!(outcome, Detached::TimedOut);
        let started: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        // Gone, or dead and waiting for init to reap it.
        let gone = || {
            let stat = std::fs::read_to_string(format!("/proc/{started}/stat")).unwrap_or_default();
            stat.is_empty() || stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'))
        };
        // A signalled process dies when next scheduled: on a loaded machine, give it that moment.
        let until = Instant::now() + Duration::from_secs(10);
        while !gone() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(gone(), "the supervisor's child {started} was left running");
    }
}
