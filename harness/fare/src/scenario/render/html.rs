//! One HTML file per run, readable without any server: inline style, no
//! script. Each scenario is a `<details>` with its diagnosis (and, when it
//! failed, the topology with its broken hops in red), steps and checks
//! (with timings), each chain as a timeline and as a tree, and its dead
//! letters; failed ones are open.

use super::{escape, waterfall};
use crate::scenario::report::{Line, Outcome, RunReport, ScenarioReport};
use crate::topology::Topology;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f4f4f4}.ok{color:#137333}.fail{color:#b3261e;font-weight:600}.skip{color:#8a6d00}\
details{border:1px solid #ccc;border-radius:6px;margin:.6em 0;padding:.4em .8em}\
summary{cursor:pointer;font-weight:600}pre{background:#f7f7f7;padding:.6em;overflow-x:auto}\
.diagnosis{background:#fdecea;border-left:4px solid #b3261e;padding:.5em .8em;white-space:pre-wrap}\
.ms{text-align:right;font-variant-numeric:tabular-nums}.topology svg{max-width:100%;height:auto}";

pub fn html(report: &RunReport, topology: &Topology) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fare e2e {}</title>\
         <style>{STYLE}{}</style></head><body>\n",
        escape(&report.started_at),
        waterfall::STYLE
    );
    out.push_str(&format!(
        "<h1>fare e2e — {} passed, {} failed, {} skipped</h1>\n<p>namespace <code>{}</code>, started {}, took {:.1}s</p>\n",
        report.passed(),
        report.failed(),
        report.skipped(),
        escape(&report.namespace),
        escape(&report.started_at),
        report.took.as_secs_f64()
    ));
    for note in &report.notes {
        out.push_str(&format!("<p class=\"skip\">note: {}</p>\n", escape(note)));
    }
    out.push_str("<table><tr><th>scenario</th><th>result</th><th>time</th><th>quiet after</th></tr>\n");
    for s in &report.scenarios {
        let quiet = s.quiet_after.map(|q| format!("{} ms", q.as_millis())).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "<tr><td><a href=\"#{id}\">{name}</a></td><td>{}</td><td class=\"ms\">{} ms</td><td class=\"ms\">{quiet}</td></tr>\n",
            outcome(&s.outcome),
            s.took.as_millis(),
            id = anchor(&s.name),
            name = escape(&s.name)
        ));
    }
    out.push_str("</table>\n");
    for s in &report.scenarios {
        scenario(&mut out, s, topology, &report.namespace);
    }
    out.push_str("</body></html>\n");
    out
}

fn scenario(out: &mut String, s: &ScenarioReport, topology: &Topology, namespace: &str) {
    let open = if s.failed() { " open" } else { "" };
    out.push_str(&format!(
        "<details id=\"{}\"{open}><summary>{} — {}</summary>\n<p>{}<br><code>{}</code> · correlation id <code>{}</code></p>\n",
        anchor(&s.name),
        escape(&s.name),
        outcome(&s.outcome),
        escape(&s.description),
        escape(&s.file.display().to_string()),
        escape(&s.correlation_id)
    ));
    for d in &s.diagnosis {
        for hop in &d.hops {
            out.push_str(&format!(
                "<div class=\"diagnosis\"><b>chain {} · broken hop: {}</b><br>{} <code>{}</code>",
                escape(&d.label),
                escape(&hop.hop.to_string()),
                escape(&hop.why()),
                hop.kind()
            ));
            if !hop.evidence.is_empty() {
                out.push_str("<ul>");
                for e in &hop.evidence {
                    out.push_str(&format!("<li>{}</li>", escape(&e.to_string())));
                }
                out.push_str("</ul>");
            }
            out.push_str("</div>\n");
        }
    }
    let commands = s.regression_commands(namespace);
    if !commands.is_empty() {
        out.push_str("<p class=\"regression\">Keep this failure from coming back: a scenario written from the record, \
                      failing until the chain completes (without <code>--expect-topology</code>: the chain as seen)</p><ul>");
        for (label, command) in commands {
            out.push_str(&format!("<li>chain {}: <code>{}</code></li>", escape(&label), escape(&command)));
        }
        out.push_str("</ul>\n");
    }
    let broken: Vec<(String, String)> = s
        .diagnosis
        .iter()
        .flat_map(|d| &d.hops)
        .filter_map(|h| Some((h.hop.after.clone()?, h.hop.service.clone()?)))
        .collect();
    if !broken.is_empty() {
        out.push_str("<details class=\"topology\" open><summary>where in the topology</summary>\n");
        out.push_str(&crate::graph::svg_marked(topology, &broken));
        out.push_str("</details>\n");
    }
    lines(out, "steps", &s.steps);
    lines(out, "checks", &s.checks);
    for c in &s.chains {
        let diagnosis = s.diagnosis.iter().find(|d| d.label == c.label);
        out.push_str(&format!(
            "<h4>chain {} <code>{}</code> — {} events</h4>\n{}<details><summary>as a tree</summary><pre>{}</pre></details>\n",
            escape(&c.label),
            escape(&c.correlation_id),
            c.trace.events.len(),
            waterfall(&c.trace, diagnosis),
            escape(&c.trace.render_text())
        ));
    }
    if !s.dead_letters.is_empty() {
        out.push_str("<h4>dead letters</h4><table><tr><th>queue of</th><th>event</th><th>rejection</th></tr>\n");
        for l in &s.dead_letters {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&l.service),
                escape(l.event_type.as_deref().unwrap_or("(not an event)")),
                escape(l.reason.as_deref().unwrap_or("after its retries"))
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("</details>\n");
}

fn lines(out: &mut String, title: &str, lines: &[Line]) {
    if lines.is_empty() {
        return;
    }
    out.push_str(&format!("<h4>{title}</h4><table><tr><th></th><th>what</th><th>time</th><th>detail</th></tr>\n"));
    for l in lines {
        let (class, mark) = if l.ok() { ("ok", "✓") } else { ("fail", "✗") };
        out.push_str(&format!(
            "<tr><td class=\"{class}\">{mark}</td><td>{}</td><td class=\"ms\">{} ms</td><td>{}</td></tr>\n",
            escape(&l.what),
            l.took.as_millis(),
            escape(&l.result.to_string())
        ));
    }
    out.push_str("</table>\n");
}

fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Passed => "<span class=\"ok\">passed</span>".into(),
        Outcome::Failed => "<span class=\"fail\">FAILED</span>".into(),
        Outcome::Skipped(why) => format!("<span class=\"skip\" title=\"{}\">skipped</span>", escape(why)),
    }
}

fn anchor(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}
