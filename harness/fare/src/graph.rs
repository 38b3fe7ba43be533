//! The topology drawn: DOT text, and an SVG picture that needs no tool to
//! render (Mermaid is the topology's own, `Topology::mermaid`). In the picture services sit in columns by how far
//! they are from the edge of the platform (a service that listens to
//! nothing is at the left), each topic between its publisher and its
//! listeners, and third parties under the service that wraps them.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;

use crate::html::escape;
use crate::topology::Topology;

/// The topology as Graphviz DOT.
pub fn dot(topology: &Topology) -> String {
    let mut out = String::from("digraph fare {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    for e in topology.events() {
        let _ = writeln!(out, "  \"{e}\" [shape=parallelogram, style=filled, fillcolor=\"#fff4d6\"];");
    }
    for m in topology.services() {
        let _ = writeln!(out, "  \"{}\" [shape=box, style=\"rounded,filled\", fillcolor=\"#dbe9ff\"];", m.name);
        for e in &m.publishes {
            let _ = writeln!(out, "  \"{}\" -> \"{e}\" [label=\"tells\"];", m.name);
        }
        for l in &m.listens {
            let _ = writeln!(out, "  \"{}\" -> \"{}\";", l.event, m.name);
        }
        for a in &m.asks {
            let _ = writeln!(out, "  \"{}\" -> \"{}\" [style=dashed, label=\"asks\"];", m.name, a.service);
        }
        for w in &m.wraps {
            let _ = writeln!(out, "  \"{0}\" [shape=hexagon, style=filled, fillcolor=\"#eeeeee\"];", w.third_party);
            let _ = writeln!(out, "  \"{}\" -> \"{}\" [style=dotted, label=\"wraps\"];", m.name, w.third_party);
        }
    }
    out.push_str("}\n");
    out
}

const COLUMN: f64 = 190.0;
const ROW: f64 = 56.0;
const MARGIN: f64 = 30.0;

/// The topology as a standalone SVG picture.
pub fn svg(topology: &Topology) -> String {
    svg_marked(topology, &[])
}

/// The picture with `broken` hops, (event, service that should have acted
/// on it), drawn in red: the listening edge thick, the service outlined.
pub fn svg_marked(topology: &Topology, broken: &[(String, String)]) -> String {
    let is_broken = |event: &str, service: &str| broken.iter().any(|(e, s)| e == event && s == service);
    let depth = depths(topology);
    // Column of every node: services on even columns, topics on odd ones.
    let mut columns: BTreeMap<usize, Vec<(String, Kind)>> = BTreeMap::new();
    for m in topology.services() {
        columns.entry(2 * depth[&m.name]).or_default().push((m.name.clone(), Kind::Service));
    }
    for e in topology.events() {
        let from = topology.publishers(&e).iter().map(|p| depth[*p]).min().unwrap_or(0);
        columns.entry(2 * from + 1).or_default().push((e.to_string(), Kind::Topic));
    }
    for m in topology.services() {
        for w in &m.wraps {
            columns.entry(2 * depth[&m.name]).or_default().push((w.third_party.clone(), Kind::ThirdParty));
        }
    }
    let mut at: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut kinds = Vec::new();
    for (col, nodes) in &columns {
        for (row, (name, kind)) in nodes.iter().enumerate() {
            let pos = (MARGIN + *col as f64 * COLUMN + 70.0, MARGIN + row as f64 * ROW + 20.0);
            at.insert(name.clone(), pos);
            kinds.push((name.clone(), *kind, pos));
        }
    }
    let width = MARGIN * 2.0 + (columns.keys().max().copied().unwrap_or(0) + 1) as f64 * COLUMN;
    let height = MARGIN * 2.0 + columns.values().map(Vec::len).max().unwrap_or(1) as f64 * ROW;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for m in topology.services() {
        for e in &m.publishes {
            edge(&mut out, at[&m.name], at[e.as_str()], "#2b6cb0", " stroke-width=\"1.3\"");
        }
        for l in &m.listens {
            match is_broken(l.event.as_str(), &m.name) {
                true => edge(&mut out, at[l.event.as_str()], at[&m.name], BROKEN, " stroke-width=\"4\""),
                false => edge(&mut out, at[l.event.as_str()], at[&m.name], "#555", " stroke-width=\"1.3\""),
            }
        }
        for a in &m.asks {
            if let Some(&to) = at.get(&a.service) {
                edge(&mut out, at[&m.name], to, "#c05621", " stroke-width=\"1.3\" stroke-dasharray=\"6 4\"");
            }
        }
        for w in &m.wraps {
            edge(&mut out, at[&m.name], at[&w.third_party], "#777", " stroke-width=\"1.3\" stroke-dasharray=\"2 3\"");
        }
    }
    for (name, kind, (x, y)) in kinds {
        let outline = if broken.iter().any(|(_, s)| *s == name) { BROKEN } else { "#333" };
        let (fill, rx) = match kind {
            Kind::Service => ("#dbe9ff", 10),
            Kind::Topic => ("#fff4d6", 0),
            Kind::ThirdParty => ("#eeeeee", 18),
        };
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"140\" height=\"30\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"{outline}\" stroke-width=\"2\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x - 70.0,
            y - 15.0,
            y + 4.0,
            escape(&name)
        );
    }
    let legend_y = height - 12.0;
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"{legend_y}\" fill=\"#555\">blue: tells (publishes) · grey: listens · orange dashed: asks over HTTP · dotted: wraps a third party</text>\n</svg>"
    );
    out
}

/// The colour of a broken hop.
const BROKEN: &str = "#d93025";

#[derive(Debug, Clone, Copy)]
enum Kind {
    Service,
    Topic,
    ThirdParty,
}

fn edge(out: &mut String, from: (f64, f64), to: (f64, f64), colour: &str, style: &str) {
    let (x1, x2) = if to.0 >= from.0 { (from.0 + 70.0, to.0 - 70.0) } else { (from.0 - 70.0, to.0 + 70.0) };
    let (y1, y2) = if (to.0 - from.0).abs() < 1.0 { (from.1 + 15.0, to.1 - 15.0) } else { (from.1, to.1) };
    let mid = (x1 + x2) / 2.0;
    let _ = writeln!(
        out,
        "<path d=\"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}\" fill=\"none\" stroke=\"{colour}\"{style} marker-end=\"url(#arrow)\"/>"
    );
}

/// How many hops each service is from where chains start. Chains start at
/// services that listen to nothing, then (while some services are not
/// placed yet) at the unplaced service whose events have the most
/// listeners: a store that takes orders, not the services that follow it.
/// Sinks (services that publish nothing, like a collector) go to the right.
fn depths(topology: &Topology) -> BTreeMap<String, usize> {
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    let is_sink = |name: &str| topology.service(name).is_some_and(|m| m.publishes.is_empty());
    let mut queue: VecDeque<String> = VecDeque::new();
    for m in topology.services().filter(|m| m.listens.is_empty()) {
        depth.insert(m.name.clone(), 0);
        queue.push_back(m.name.clone());
    }
    loop {
        while let Some(name) = queue.pop_front() {
            let d = depth[&name];
            let Some(m) = topology.service(&name) else { continue };
            for e in &m.publishes {
                for (listener, _) in topology.listeners(e) {
                    if !depth.contains_key(&listener.name) && !is_sink(&listener.name) {
                        depth.insert(listener.name.clone(), d + 1);
                        queue.push_back(listener.name.clone());
                    }
                }
            }
        }
        let reach = |m: &crate::manifest::Manifest| {
            let mut listeners: Vec<&str> =
                m.publishes.iter().flat_map(|e| topology.listeners(e)).map(|(l, _)| l.name.as_str()).collect();
            listeners.sort();
            listeners.dedup();
            listeners.len()
        };
        let next = topology
            .services()
            .filter(|m| !depth.contains_key(&m.name) && !is_sink(&m.name))
            .max_by_key(|m| (reach(m), std::cmp::Reverse(m.name.clone())));
        let Some(next) = next else { break };
        depth.insert(next.name.clone(), 0);
        queue.push_back(next.name.clone());
    }
    let far = depth.values().max().copied().unwrap_or(0) + 1;
    for m in topology.services() {
        depth.entry(m.name.clone()).or_insert(far);
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Topology {
        let services = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services");
        crate::load_topology(&services).unwrap().0
    }

    #[test]
    fn chains_read_left_to_right_with_sinks_last() {
        let d = depths(&platform());
        assert_eq!((d["users"], d["store"]), (0, 0));
        assert!(d["store"] < d["devices"] && d["devices"] < d["fulfillment"] && d["fulfillment"] < d["tracking"]);
        assert!(d.values().all(|&v| v <= d["collector"]), "{d:?}");
    }

    #[test]
    fn every_service_topic_and_third_party_is_drawn() {
        let t = platform();
        let picture = svg(&t);
        assert!(picture.starts_with("<svg") && picture.trim_end().ends_with("</svg>"));
        for m in t.services() {
            assert!(picture.contains(&format!(">{}</text>", m.name)), "{} missing", m.name);
            for w in &m.wraps {
                assert!(picture.contains(&format!(">{}</text>", w.third_party)));
            }
        }
        for e in t.events() {
            assert!(picture.contains(&format!(">{e}</text>")));
            assert!(dot(&t).contains(&format!("\"{e}\" [shape=parallelogram")));
        }
    }
}
