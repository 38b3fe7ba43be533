//! Properties of the three parsers bad input reaches first: an event
//! envelope off a queue, a service manifest, a scenario file. Each starts
//! from a real document of the project, breaks one field of it (a value of
//! another kind, or the field gone), and parses the result: the parser never
//! panics, and when it refuses, its error names the field that was broken.
//! Arbitrary text gets the first half of that promise.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

/// How one field is broken.
#[derive(Debug, Clone)]
enum Break {
    /// The field is gone.
    Remove,
    /// The field holds this instead.
    Replace(Value),
}

/// Values of every kind, nested a little.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_break() -> impl Strategy<Value = Break> {
    prop_oneof![1 => Just(Break::Remove), 4 => any_value().prop_map(Break::Replace)]
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The path of every value in `doc` below its root.
fn paths(doc: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut walk = vec![(Vec::new(), doc)];
    while let Some((at, v)) = walk.pop() {
        let children: Vec<(Step, &Value)> = match v {
            Value::Object(m) => m.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(i, v)| (Step::Index(i), v)).collect(),
            _ => Vec::new(),
        };
        for (step, child) in children {
            let mut here = at.clone();
            here.push(step);
            out.push(here.clone());
            walk.push((here, child));
        }
    }
    out
}

/// `doc` with the value at `path` broken.
fn broken(doc: &Value, path: &[Step], how: &Break) -> Value {
    let mut doc = doc.clone();
    let (last, parents) = path.split_last().expect("a path below the root");
    let mut at = &mut doc;
    for step in parents {
        at = match step {
            Step::Key(k) => &mut at[k.as_str()],
            Step::Index(i) => &mut at[*i],
        };
    }
    match (how, last, at) {
        (Break::Remove, Step::Key(k), Value::Object(m)) => {
            m.remove(k);
        }
        (Break::Remove, Step::Index(i), Value::Array(a)) => {
            a.remove(*i);
        }
        (Break::Replace(v), Step::Key(k), parent) => parent[k.as_str()] = v.clone(),
        (Break::Replace(v), Step::Index(i), parent) => parent[*i] = v.clone(),
        _ => unreachable!("paths() only yields keys of objects and indexes of arrays"),
    }
    doc
}

/// The names an error may give the broken field by: the keys on its path.
/// A removed array element changes its parent, so any key on the way counts.
fn names(path: &[Step]) -> Vec<&str> {
    path.iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect()
}

fn assert_names_a_field(error: &str, path: &[Step], document: &str) -> Result<(), TestCaseError> {
    let names = names(path);
    prop_assert!(
        names.is_empty() || names.iter().any(|n| error.contains(n)),
        "the error does not name any of {names:?}:\n{error}\n--- document:\n{document}"
    );
    Ok(())
}

/// Every document of a kind the project has, as JSON values.
fn documents(dir: &str, ext: &str, read: impl Fn(&str) -> Value) -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .flat_map(|p| if p.is_dir() { vec![p.join("service.toml")] } else { vec![p] })
        .filter(|p| p.extension().is_some_and(|e| e == ext) && p.is_file())
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no *.{ext} under {}", root.display());
    found.into_iter().map(|p| (p.clone(), read(&std::fs::read_to_string(&p).unwrap()))).collect()
}

/// A document and one of its paths, chosen.
fn document_and_path(docs: Vec<(PathBuf, Value)>) -> impl Strategy<Value = (PathBuf, Value, Vec<Step>)> {
    prop::sample::select(docs).prop_flat_map(|(p, doc)| {
        let all = paths(&doc);
        (Just(p), Just(doc), prop::sample::select(all))
    })
}

fn envelope() -> Value {
    json!({
        "id": "0b6f8f2e-7c1a-4d3e-9a57-1f2d3c4b5a69",
        "type": "order.placed",
        "version": 1,
        "occurred_at": "2026-12-02T05:00:00Z",
        "correlation_id": "e2e-order-delivered-1",
        "causation_id": null,
        "producer": "store",
        "data": {"order_id": "o-1", "user_id": "u-1", "model": "kettle", "quantity": 1}
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn an_envelope_with_a_broken_field_is_refused_by_its_name(path in prop::sample::select(paths(&envelope())), how in any_break()) {
        let text = broken(&envelope(), &path, &how).to_string();
        // `data` is the event's own: its schema is checked by `data_as`, not here.
        if let (Err(e), false) = (kit::Envelope::from_json(&text), names(&path).first() == Some(&"data")) {
            assert_names_a_field(&kit::error_chain(&e), &path, &text)?;
        }
    }

    #[test]
    fn a_manifest_with_a_broken_field_is_refused_by_its_name(
        (file, doc, path) in document_and_path(documents("services", "toml", |t| {
            serde_json::to_value(toml::from_str::<toml::Value>(t).unwrap()).unwrap()
        })),
        how in any_break(),
    ) {
        let doc = broken(&doc, &path, &how);
        // TOML has no null: a document with one cannot be written, so it is not a case.
        let Ok(text) = toml::to_string(&doc) else { return Ok(()) };
        if let Err(e) = crate::Manifest::parse(&file, &text) {
            assert_names_a_field(&e.to_string(), &path, &text)?;
        }
    }

    #[test]
    fn a_scenario_with_a_broken_field_is_refused_by_its_name(
        (file, doc, path) in document_and_path(documents("scenarios", "yaml", |t| {
            serde_norway::from_str::<Value>(t).unwrap()
        })),
        how in any_break(),
    ) {
        let text = serde_norway::to_string(&broken(&doc, &path, &how)).unwrap();
        if let Err(e) = crate::scenario::parse(&file, &text) {
            assert_names_a_field(&e.to_string(), &path, &text)?;
        }
    }

    #[test]
    fn no_text_makes_a_parser_panic(text in "\\PC{0,400}") {
        let _ = kit::Envelope::from_json(&text);
        let _ = crate::Manifest::parse(Path::new("service.toml"), &text);
        let _ = crate::scenario::parse(Path::new("scenario.yaml"), &text);
    }

    /// Arbitrary text rarely parses far enough to reach the error-locating code; text
    /// made of the formats' own punctuation, keys and multi-byte letters does.
    #[test]
    fn no_structured_text_makes_a_parser_panic(
        text in prop::collection::vec(prop::sample::select(vec![
            "steps", "fakes", "status", "http", "- ", "  ", "\n", ":", " ", "[", "]", "{", "}", ",", "\"", "=",
            "0", "7", "-1", "#", "ቊ", "é", "🉐", "[[", "]]", "type", "data", "version", "null", "true",
        ]), 0..60).prop_map(|parts| parts.concat()),
    ) {
        let _ = kit::Envelope::from_json(&text);
        let _ = crate::Manifest::parse(Path::new("service.toml"), &text);
        let _ = crate::scenario::parse(Path::new("scenario.yaml"), &text);
    }
}
