//! What the third parties answered the chain, as the fakes' rules: one
//! rule per kind of request (method and path, the id at the end of a path
//! made a `*`), its replies in the order they were given, runs of the same
//! answer counted (`times`), the last one answering every request after.
//! An answer the fake gave of itself (a success) stays `as_usual`; one a
//! rule gave takes its body from that rule when the record keeps it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::Family;
use crate::fakes::{Logged, Reply};
use crate::trace::{ProgrammedRule, in_family};

/// One rule, as the file spells it.
#[derive(Debug, Serialize)]
pub(super) struct Rule {
    #[serde(rename = "match")]
    matcher: Match,
    respond: Vec<Answer>,
}

#[derive(Debug, Serialize)]
struct Match {
    method: String,
    path: String,
}

/// One reply of a rule's sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Answer {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    as_usual: bool,
    #[serde(skip_serializing_if = "is_zero")]
    delay_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    times: Option<u32>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub(super) fn write(family: &Family, notes: &mut Vec<String>) -> BTreeMap<String, Vec<Rule>> {
    let mut out = BTreeMap::new();
    for (fake, log) in &family.record.fakes {
        let ours: Vec<&Logged> =
            log.iter().filter(|l| l.correlation_id.as_deref().is_some_and(|c| in_family(c, &family.base))).collect();
        let programmed: Vec<&ProgrammedRule> = family
            .record
            .rules
            .iter()
            .filter(|r| r.fake == *fake && r.rule.scope.as_deref().is_none_or(|s| in_family(&family.base, s)))
            .collect();
        let rules = rules(&ours, &programmed, fake, notes);
        if !rules.is_empty() {
            out.insert(fake.clone(), rules);
        }
    }
    out
}

/// The rules that answer `log` again, one per kind of request, in the
/// order each kind was first asked.
fn rules(log: &[&Logged], programmed: &[&ProgrammedRule], fake: &str, notes: &mut Vec<String>) -> Vec<Rule> {
    let mut kinds: Vec<(String, String)> = Vec::new();
    let mut answers: BTreeMap<(String, String), Vec<Answer>> = BTreeMap::new();
    for l in log {
        let kind = (l.method.clone(), pattern(&l.path));
        if !kinds.contains(&kind) {
            kinds.push(kind.clone());
        }
        answers.entry(kind).or_default().push(answer(l, programmed, fake, notes));
    }
    let mut rules = Vec::new();
    for kind in kinds {
        let replies = runs(answers.remove(&kind).unwrap_or_default());
        // A fake that only answered as it always does needs no rule.
        if replies.iter().all(|a| a.as_usual) {
            continue;
        }
        let (method, path) = kind;
        rules.push(Rule { matcher: Match { method, path }, respond: replies });
    }
    rules
}

/// `path` with a last segment that looks like an id (it has a digit and
/// is long) made a prefix: `/tracking/1Z999…` → `/tracking/*`.
fn pattern(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((head, last)) if last.len() >= 6 && last.chars().any(|c| c.is_ascii_digit()) => format!("{head}/*"),
        _ => path.to_owned(),
    }
}

/// What answered `l`, as a reply: as usual (the fake's own success), or
/// its status, with the body of the programmed reply that gave it.
fn answer(l: &Logged, programmed: &[&ProgrammedRule], fake: &str, notes: &mut Vec<String>) -> Answer {
    let plain =
        Answer { status: None, body: None, headers: BTreeMap::new(), as_usual: false, delay_ms: 0, times: None };
    if !l.programmed && l.status < 400 {
        return Answer { as_usual: true, ..plain };
    }
    let given = programmed
        .iter()
        .filter(|r| matches(&r.rule.matcher, l))
        .flat_map(|r| &r.rule.respond)
        .find(|reply: &&Reply| reply.status == Some(l.status));
    match given {
        Some(reply) => Answer {
            status: Some(l.status),
            body: reply.body.clone(),
            headers: reply.headers.clone(),
            delay_ms: reply.delay_ms,
            ..plain
        },
        None => {
            let note =
                format!("{fake}'s {} answers to {} {} keep their status, not their body", l.status, l.method, l.path);
            if !notes.contains(&note) {
                notes.push(note);
            }
            Answer { status: Some(l.status), ..plain }
        }
    }
}

/// Whether a rule's matcher takes `l` (on what the log keeps: method and path).
fn matches(m: &crate::fakes::Matcher, l: &Logged) -> bool {
    let method = m.method.as_deref().is_none_or(|want| want.eq_ignore_ascii_case(&l.method));
    let path = m.path.as_deref().is_none_or(|want| match want.strip_suffix('*') {
        Some(prefix) => l.path.starts_with(prefix),
        None => l.path == want,
    });
    method && path
}

/// Runs of the same answer counted; the last answer without a count, so
/// it answers every request after, as it did.
fn runs(answers: Vec<Answer>) -> Vec<Answer> {
    let mut out: Vec<Answer> = Vec::new();
    for a in answers {
        match out.last_mut() {
            Some(last) if Answer { times: None, ..last.clone() } == a => {
                last.times = Some(last.times.unwrap_or(1) + 1);
            }
            _ => out.push(Answer { times: Some(1), ..a }),
        }
    }
    if let Some(last) = out.last_mut() {
        last.times = None;
    }
    // `times: 1` is the default.
    for a in &mut out {
        if a.times == Some(1) {
            a.times = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(path: &str, status: u16, programmed: bool) -> Logged {
        Logged {
            at_ms: 0,
            method: "GET".into(),
            path: path.into(),
            correlation_id: Some("c".into()),
            status,
            programmed,
        }
    }

    #[test]
    fn answers_become_counted_replies_and_the_last_one_lasts() {
        let log = [
            logged("/tracking/1Z0001", 503, false),
            logged("/tracking/1Z0001", 503, false),
            logged("/tracking/1Z0001", 200, false),
            logged("/tracking/1Z0001", 200, false),
        ];
        let log: Vec<&Logged> = log.iter().collect();
        let mut notes = Vec::new();
        let rules = rules(&log, &[], "carrier", &mut notes);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].matcher.path, "/tracking/*");
        let shown: Vec<(Option<u16>, bool, Option<u32>)> =
            rules[0].respond.iter().map(|a| (a.status, a.as_usual, a.times)).collect();
        assert_eq!(shown, [(Some(503), false, Some(2)), (None, true, None)]);
        assert_eq!(notes.len(), 1, "the fake's own 503s keep no body: {notes:?}");
    }
}
