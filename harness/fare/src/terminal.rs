//! How fare talks to a person at a terminal: progress lines on standard
//! error (none with `-q`, more with `-v`), and colour only where a terminal
//! shows it and `NO_COLOR` does not forbid it. The CLI sets this once at
//! start; library code that reports progress asks it, so a test, which never
//! sets it, gets the plain defaults.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// `-q`, nothing, or `-v`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Results and errors only.
    Quiet,
    #[default]
    Normal,
    /// Every step: each provisioning change, each scenario as it starts.
    Verbose,
}

/// What this run's terminal can show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminal {
    pub verbosity: Verbosity,
    /// Standard error is a terminal (a person watches progress as it happens).
    pub stderr_tty: bool,
    pub stdout_color: bool,
    pub stderr_color: bool,
}

static TERMINAL: OnceLock<Terminal> = OnceLock::new();

impl Terminal {
    /// From the process's streams and `NO_COLOR` (set and not empty: no
    /// colour, as no-color.org asks).
    pub fn detect(verbosity: Verbosity) -> Terminal {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr_tty = std::io::stderr().is_terminal();
        Terminal {
            verbosity,
            stderr_tty,
            stdout_color: !no_color && std::io::stdout().is_terminal(),
            stderr_color: !no_color && stderr_tty,
        }
    }

    /// Makes this the run's terminal; a second call changes nothing.
    pub fn install(self) {
        let _ = TERMINAL.set(self);
    }
}

/// The run's terminal (plain defaults until the CLI installs one).
pub fn get() -> Terminal {
    TERMINAL.get().copied().unwrap_or_default()
}

/// A progress line, `fare: …` on standard error, unless `-q`.
pub fn progress(line: &str) {
    if get().verbosity > Verbosity::Quiet {
        eprintln!("fare: {line}");
    }
}

/// A line only `-v` shows.
pub fn detail(line: &str) {
    if get().verbosity >= Verbosity::Verbose {
        eprintln!("fare: {line}");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Red,
    Yellow,
}

/// Where a text is going to be printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// `text` in `color` when `stream` shows colour, else `text` unchanged.
pub fn paint(text: &str, color: Color, stream: Stream) -> String {
    let t = get();
    let on = match stream {
        Stream::Stdout => t.stdout_color,
        Stream::Stderr => t.stderr_color,
    };
    if !on {
        return text.to_owned();
    }
    let code = match color {
        Color::Green => 32,
        Color::Red => 31,
        Color::Yellow => 33,
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
