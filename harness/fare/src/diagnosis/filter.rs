//! Whether an SNS filter policy (on message attributes) lets an event
//! through: exact strings, `prefix`, `anything-but` and `exists`. A policy
//! this does not understand is taken to let everything through, so the
//! diagnosis never blames a filter it cannot read.

use std::collections::BTreeMap;

use serde_json::Value;

/// The attributes the kit's publisher sets on every event.
pub fn attributes(event_type: &str, correlation_id: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("event_type", event_type.to_owned()), ("correlation_id", correlation_id.to_owned())])
}

/// `false` only when `policy` certainly keeps a message with `attrs` out.
pub fn passes(policy: &str, attrs: &BTreeMap<&'static str, String>) -> bool {
    let Ok(Value::Object(policy)) = serde_json::from_str::<Value>(policy) else { return true };
    policy.iter().all(|(key, allowed)| {
        let value = attrs.get(key.as_str());
        match allowed {
            Value::Array(options) => options.iter().any(|o| matches(o, value)),
            other => matches(other, value),
        }
    })
}

fn matches(option: &Value, value: Option<&String>) -> bool {
    match option {
        Value::String(s) => value == Some(s),
        Value::Object(rule) => match rule.iter().next() {
            Some((k, Value::String(p))) if k == "prefix" => value.is_some_and(|v| v.starts_with(p.as_str())),
            Some((k, Value::Bool(wanted))) if k == "exists" => value.is_some() == *wanted,
            Some((k, but)) if k == "anything-but" => {
                let excluded = match but {
                    Value::Array(list) => list.iter().any(|b| b.as_str() == value.map(String::as_str)),
                    Value::String(b) => Some(b) == value,
                    _ => return true,
                };
                value.is_some() && !excluded
            }
            _ => true,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_keep_out_what_they_do_not_name() {
        let attrs = attributes("device.allocated", "c-1");
        assert!(passes(r#"{"event_type":["device.allocated"]}"#, &attrs));
        assert!(!passes(r#"{"event_type":["device.allocation_failed"]}"#, &attrs));
        assert!(passes(r#"{"event_type":[{"prefix":"device."}]}"#, &attrs));
        assert!(!passes(r#"{"correlation_id":[{"anything-but":["c-1"]}]}"#, &attrs));
        assert!(!passes(r#"{"region":[{"exists":true}]}"#, &attrs));
        assert!(passes(r#"{"event_type":[{"numeric":["=",1]}]}"#, &attrs), "unknown rules let it through");
    }
}
