//! A chain's timeline, as a trace viewer draws one: a row per request and
//! per hop (an event and the service that took it), with bars for the
//! time the event waited on the queue, the handling, each call out, and
//! background work. The hops the diagnosis names are red, with their
//! reason. Plain HTML and CSS: no script, no image.

use std::fmt::Write;

use super::escape;
use crate::diagnosis::Diagnosis;
use crate::trace::{Outcome, Trace};

/// One bar: [start, end] in Unix nanoseconds, its kind (a CSS class), and its tooltip.
struct Bar {
    start: u64,
    end: u64,
    class: &'static str,
    title: String,
}

struct Row {
    label: String,
    bars: Vec<Bar>,
    broken: Option<String>,
}

/// The timeline of `trace`, `diagnosis` marking its broken hops.
pub fn waterfall(trace: &Trace, diagnosis: Option<&Diagnosis>) -> String {
    let mut rows = Vec::new();
    for r in &trace.requests {
        let status = r.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
        let title = format!("{} {} {} → {status}", r.service, r.method, r.path);
        let class = if r.status.is_none_or(|s| s >= 400) { "bad" } else { "req" };
        rows.push(Row {
            label: format!("{} {} {}", r.service, r.method, r.path),
            bars: vec![Bar { start: r.start_unix_nanos, end: r.end_unix_nanos, class, title }],
            broken: None,
        });
    }
    let hops = diagnosis.map(|d| d.hops.as_slice()).unwrap_or_default();
    for e in &trace.events {
        let published = e.occurred_at.unix_timestamp_nanos().max(0) as u64;
        for r in &e.receipts {
            let mut bars = Vec::new();
            if let Some(start) = r.started_unix_nanos {
                bars.push(Bar { start: published, end: start, class: "wait", title: "on the queue".into() });
                let class = match r.outcome {
                    Outcome::Handled => "handle",
                    Outcome::Retrying | Outcome::DeadLettered { .. } => "bad",
                };
                let attempts = if r.attempts > 1 { format!(" ({} attempts)", r.attempts) } else { String::new() };
                let end = r.ended_unix_nanos.unwrap_or(start);
                bars.push(Bar {
                    start,
                    end,
                    class,
                    title: format!("{} handles {}{attempts}", r.service, e.event_type),
                });
            }
            for c in r.calls.iter().chain(r.work.iter().flat_map(|w| &w.calls)) {
                let status = c.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
                let class = if c.failed() { "bad" } else { "call" };
                let title = format!("{} {} {} → {status}", c.callee, c.method, c.url);
                bars.push(Bar { start: c.start_unix_nanos, end: c.end_unix_nanos, class, title });
            }
            for w in &r.work {
                let title = format!("{} ({} runs)", w.task, w.runs);
                bars.push(Bar { start: w.first_unix_nanos, end: w.last_unix_nanos, class: "work", title });
            }
            let broken = hops
                .iter()
                .find(|h| h.hop.after.as_deref() == Some(&e.event_type) && h.hop.service.as_deref() == Some(&r.service))
                .map(|h| h.why());
            rows.push(Row { label: format!("{} → {}", e.event_type, r.service), bars, broken });
        }
        // A hop the diagnosis names that left no receipt: a row of its own.
        for h in hops.iter().filter(|h| h.hop.after.as_deref() == Some(&e.event_type)) {
            let service = h.hop.service.as_deref().unwrap_or("?");
            if e.receipts.iter().any(|r| r.service == service) {
                continue;
            }
            let bars = vec![Bar { start: published, end: published, class: "bad", title: h.why() }];
            rows.push(Row { label: format!("{} → {service}", e.event_type), bars, broken: Some(h.why()) });
        }
    }
    for h in hops.iter().filter(|h| h.hop.after.is_none()) {
        rows.push(Row { label: format!("request → {}", h.hop.expected), bars: Vec::new(), broken: Some(h.why()) });
    }
    render(&rows)
}

fn render(rows: &[Row]) -> String {
    let starts = rows.iter().flat_map(|r| &r.bars).map(|b| b.start);
    let ends = rows.iter().flat_map(|r| &r.bars).map(|b| b.end.max(b.start));
    let (Some(t0), Some(t1)) = (starts.min(), ends.max()) else {
        let mut out = String::from("<div class=\"wf\">");
        for r in rows {
            let _ = write!(out, "<div class=\"wfrow broken\"><span class=\"wfl\">{}</span>", escape(&r.label));
            if let Some(why) = &r.broken {
                let _ = write!(out, "<span class=\"why\">{}</span>", escape(why));
            }
            out.push_str("</div>");
        }
        out.push_str("</div>\n");
        return out;
    };
    let span = (t1 - t0).max(1) as f64;
    let pct = |t: u64| (t.saturating_sub(t0)) as f64 / span * 100.0;
    let mut out =
        format!("<div class=\"wf\"><div class=\"wfscale\">0 ms<span>{} ms</span></div>", (t1 - t0) / 1_000_000);
    for r in rows {
        let class = if r.broken.is_some() { "wfrow broken" } else { "wfrow" };
        let _ =
            write!(out, "<div class=\"{class}\"><span class=\"wfl\">{}</span><span class=\"wft\">", escape(&r.label));
        for b in &r.bars {
            let left = pct(b.start);
            let width = (pct(b.end.max(b.start)) - left).max(0.4);
            let ms = b.end.saturating_sub(b.start) / 1_000_000;
            let _ = write!(
                out,
                "<i class=\"{}\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"{} ({ms} ms)\"></i>",
                b.class,
                escape(&b.title)
            );
        }
        out.push_str("</span>");
        if let Some(why) = &r.broken {
            let _ = write!(out, "<span class=\"why\">{}</span>", escape(why));
        }
        out.push_str("</div>");
    }
    out.push_str(
        "<div class=\"wflegend\"><i class=\"req\"></i>request <i class=\"wait\"></i>on the queue \
         <i class=\"handle\"></i>handling <i class=\"call\"></i>call out <i class=\"work\"></i>background work \
         <i class=\"bad\"></i>failed</div></div>\n",
    );
    out
}

/// The waterfall's style, for the report's `<style>`.
pub const STYLE: &str = ".wf{border:1px solid #ddd;border-radius:4px;padding:.4em;margin:.5em 0;font-size:12px}\
.wfscale{display:flex;justify-content:space-between;margin-left:30%;color:#777;border-bottom:1px solid #eee}\
.wfrow{display:flex;align-items:center;min-height:20px;border-bottom:1px solid #f3f3f3;flex-wrap:wrap}\
.wfrow.broken{background:#fdecea}.wfl{width:30%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.wft{position:relative;flex:1;height:14px}.wft i{position:absolute;top:2px;height:10px;border-radius:2px}\
.why{flex-basis:100%;margin-left:30%;color:#b3261e;font-weight:600}\
i.req{background:#7b61ff}i.wait{background:#c9c9c9}i.handle{background:#2b6cb0}i.call{background:#e8a33d}\
i.work{background:#9c6ade;opacity:.45}i.bad{background:#d93025}\
.wflegend{margin-top:.3em;color:#555}.wflegend i{display:inline-block;width:10px;height:10px;margin:0 .2em 0 .8em;border-radius:2px}";
