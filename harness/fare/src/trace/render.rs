//! A [`Trace`] as text: the tree for the terminal, with offsets, calls and
//! background work; and the skeleton scenario snapshots hold.

use time::OffsetDateTime;

use super::tree::{Call, Outcome, Receipt, Trace, Work};

impl Trace {
    /// The tree as text, with offsets from the first event.
    pub fn render_text(&self) -> String {
        let mut out = format!("chain {}\n", self.correlation_id);
        for r in &self.requests {
            let status = r.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
            out.push_str(&format!("  request: {} {} {} {status}\n", r.service, r.method, r.path));
        }
        let start = self.events.first().map(|e| e.occurred_at);
        for (n, &root) in self.sorted(&self.roots).iter().enumerate() {
            self.render_event(&mut out, root, "", n + 1 == self.roots.len(), start);
        }
        if self.events.is_empty() {
            out.push_str("  (no events recorded)\n");
        }
        for d in self.stray_dead_letters() {
            let kind = d.event_type.clone().unwrap_or_else(|| "a message".into());
            out.push_str(&format!("  dead letter in {}: {kind}{}\n", d.queue, reason_note(&d.reason)));
        }
        for x in self.exits.iter().filter(|x| !x.intended) {
            out.push_str(&format!("  {} exited ({})\n", x.service, x.status));
        }
        // Times from the first event, as the tree's offsets; else from the first fault.
        let anchor = start.map(|s| s.unix_timestamp_nanos().max(0) as u64);
        for f in &self.faults {
            out.push_str(&format!("  fault: {}\n", f.sentence(anchor.unwrap_or(f.from_unix_nanos))));
        }
        out
    }

    /// Only the events, nested by cause, each with its producer: what a
    /// chain did, without anything that varies between runs (ids, times,
    /// ports, how many attempts a retry took). Scenario snapshots hold this.
    pub fn skeleton(&self) -> String {
        let mut out = String::new();
        let roots = self.by_type(&self.roots);
        for (n, &root) in roots.iter().enumerate() {
            self.skeleton_event(&mut out, root, "", n + 1 == roots.len());
        }
        out
    }

    fn by_type(&self, of: &[usize]) -> Vec<usize> {
        let mut sorted = of.to_vec();
        sorted.sort_by_key(|&i| (self.events[i].event_type.clone(), self.events[i].producer.clone()));
        sorted
    }

    fn sorted(&self, of: &[usize]) -> Vec<usize> {
        let mut sorted = of.to_vec();
        sorted.sort_by_key(|&i| (self.events[i].event_type.clone(), self.events[i].occurred_at));
        sorted
    }

    fn skeleton_event(&self, out: &mut String, i: usize, prefix: &str, last: bool) {
        let e = &self.events[i];
        out.push_str(&format!("{prefix}{} {} (by {})\n", branch(last), e.event_type, e.producer));
        let inner = format!("{prefix}{}", indent(last));
        let children = self.by_type(&e.children);
        for (n, &c) in children.iter().enumerate() {
            self.skeleton_event(out, c, &inner, n + 1 == children.len());
        }
    }

    fn render_event(&self, out: &mut String, i: usize, prefix: &str, last: bool, start: Option<OffsetDateTime>) {
        let e = &self.events[i];
        let when = start.map(|s| format!("  +{} ms", (e.occurred_at - s).whole_milliseconds())).unwrap_or_default();
        out.push_str(&format!("{prefix}{} {} (by {}){when}\n", branch(last), e.event_type, e.producer));
        let inner = format!("{prefix}{}", indent(last));
        for (n, r) in e.receipts.iter().enumerate() {
            let last_receipt = n + 1 == e.receipts.len();
            out.push_str(&format!("{inner}{} {}\n", branch(last_receipt), receipt_line(r)));
            let deeper = format!("{inner}{}", indent(last_receipt));
            for line in call_lines(&r.calls) {
                out.push_str(&format!("{deeper}· call {line}\n"));
            }
            // Work that went as it should and asked no one (a publish) says nothing.
            for w in r.work.iter().filter(|w| !w.calls.is_empty() || w.last_error.is_some()) {
                out.push_str(&format!("{deeper}· {}\n", work_line(w)));
                for line in call_lines(&w.calls) {
                    out.push_str(&format!("{deeper}    call {line}\n"));
                }
            }
            let children: Vec<usize> =
                e.children.iter().copied().filter(|&c| self.events[c].producer == r.service).collect();
            let children = self.sorted(&children);
            for (m, &c) in children.iter().enumerate() {
                self.render_event(out, c, &deeper, m + 1 == children.len(), start);
            }
        }
    }
}

fn branch(last: bool) -> &'static str {
    if last { "└─" } else { "├─" }
}

fn indent(last: bool) -> &'static str {
    if last { "   " } else { "│  " }
}

fn receipt_line(r: &Receipt) -> String {
    let attempts = match r.attempts {
        0 | 1 => String::new(),
        n => format!(" after {n} attempts"),
    };
    let error = r.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default();
    match &r.outcome {
        Outcome::Handled if r.attempts == 0 && r.work.iter().any(|w| !w.calls.is_empty()) => {
            format!("{}: working on it", r.service)
        }
        Outcome::Handled => format!("{}: handled{attempts}", r.service),
        Outcome::Retrying => format!("{}: FAILING{attempts}, will be redelivered{error}", r.service),
        Outcome::DeadLettered { queue, reason } => {
            let why = reason_note(reason);
            let why = if why.is_empty() { error } else { why };
            format!("{}: DEAD-LETTERED in {queue}{attempts}{why}", r.service)
        }
    }
}

fn work_line(w: &Work) -> String {
    let runs = if w.runs == 1 { "1 run".to_owned() } else { format!("{} runs", w.runs) };
    let error = w.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default();
    format!("{} ({runs}){error}", w.task)
}

fn reason_note(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!("; reason: {r}")).unwrap_or_default()
}

/// Calls in order, runs of the same call and answer folded into one line.
fn call_lines(calls: &[Call]) -> Vec<String> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    for c in calls {
        let status = c.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
        let line = format!("{} {} {} {status}", c.callee, c.method, c.url);
        match lines.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => lines.push((line, 1)),
        }
    }
    lines.into_iter().map(|(l, n)| if n == 1 { l } else { format!("{l} ×{n}") }).collect()
}
