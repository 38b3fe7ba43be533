//! How topics and queues are named. The provisioner and the services both
//! call these functions, so a name is decided in one place only.

use std::fmt;

use crate::envelope::EventType;

/// The prefix of every resource of one platform: parallel runs with
/// different namespaces share one emulator without touching each other.
/// 1 to 40 lower-case letters, digits or '-', starting with a letter.
/// In JSON it is its text, read back through [`Namespace::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

#[derive(Debug, Clone, thiserror::Error)]
#[error("`{value}` is not a namespace; expected 1 to 40 lower-case letters, digits or '-', starting with a letter")]
pub struct BadNamespace {
    pub value: String,
}

impl Namespace {
    pub fn parse(value: &str) -> Result<Namespace, BadNamespace> {
        let ok = (1..=40).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok { Ok(Namespace(value.to_owned())) } else { Err(BadNamespace { value: value.to_owned() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A namespace of its own for a run beside this one: `<ns>-<suffix>`,
    /// cut to a namespace's 40 characters.
    pub fn suffixed(&self, suffix: &str) -> Result<Namespace, BadNamespace> {
        Namespace::parse(&format!("{}-{suffix}", self.0).chars().take(40).collect::<String>())
    }

    /// The topic of one event type: `fare-order-placed`.
    pub fn topic(&self, event_type: &EventType) -> String {
        format!("{}-{}", self.0, event_type.as_str().replace('.', "-"))
    }

    /// The queue a service listens on: `fare-store`.
    pub fn queue(&self, service: &str) -> String {
        format!("{}-{service}", self.0)
    }

    /// The dead-letter queue behind a service's queue: `fare-store-dlq`.
    pub fn dead_letter_queue(&self, service: &str) -> String {
        format!("{}-{service}-dlq", self.0)
    }
}

impl TryFrom<String> for Namespace {
    type Error = BadNamespace;

    fn try_from(value: String) -> Result<Namespace, BadNamespace> {
        Namespace::parse(&value)
    }
}

impl From<Namespace> for String {
    fn from(ns: Namespace) -> String {
        ns.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_valid_for_sns_and_sqs() {
        let ns = Namespace::parse("run-7").unwrap();
        let t = EventType::parse("device.allocation_failed").unwrap();
        assert_eq!(ns.topic(&t), "run-7-device-allocation_failed");
        assert_eq!(ns.queue("store"), "run-7-store");
        assert_eq!(ns.dead_letter_queue("store"), "run-7-store-dlq");
        for bad in ["", "Run", "7run", "run_7", &"a".repeat(41)] {
            assert!(Namespace::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&ns).unwrap(), r#""run-7""#);
        assert_eq!(serde_json::from_str::<Namespace>(r#""run-7""#).unwrap(), ns);
        assert!(serde_json::from_str::<Namespace>(r#""Run_7""#).is_err(), "parsed, not taken as it is");
    }
}
