//! The tracking number: it goes into the carrier's URL path, so only values
//! that cannot change that path are let in; and why tracking gives up on a
//! shipment.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a tracking number; expected 1 to 64 letters, digits, '-' or '_'")]
pub struct BadTrackingNumber {
    pub value: String,
}

impl TrackingNumber {
    pub fn parse(value: &str) -> Result<TrackingNumber, BadTrackingNumber> {
        let ok = (1..=64).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if ok { Ok(TrackingNumber(value.to_owned())) } else { Err(BadTrackingNumber { value: value.to_owned() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TrackingNumber {
    type Error = BadTrackingNumber;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TrackingNumber::parse(&value)
    }
}

impl From<TrackingNumber> for String {
    fn from(value: TrackingNumber) -> String {
        value.0
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why tracking stopped following a shipment and announced it lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReason {
    /// The carrier refused it (a 4xx answer) `TRACKING_MAX_REFUSALS` times in a row.
    Refused,
    /// It was in transit longer than `TRACKING_DEADLINE_SECONDS`.
    Deadline,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a reason a shipment is lost")]
pub struct UnknownLostReason(pub String);

impl LostReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LostReason::Refused => "refused",
            LostReason::Deadline => "deadline",
        }
    }

    pub fn parse(value: &str) -> Result<LostReason, UnknownLostReason> {
        [LostReason::Refused, LostReason::Deadline]
            .into_iter()
            .find(|r| r.as_str() == value)
            .ok_or_else(|| UnknownLostReason(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_path_safe_values_are_tracking_numbers() {
        assert!(TrackingNumber::parse("1Z999AA1-0123_4").is_ok());
        for bad in ["", "a/b", "../x", "a b", "a?b", "ü", &"x".repeat(65)] {
            assert!(TrackingNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_lost_reason_reads_back_as_written() {
        for reason in [LostReason::Refused, LostReason::Deadline] {
            assert_eq!(LostReason::parse(reason.as_str()), Ok(reason));
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
        assert!(LostReason::parse("stolen").is_err());
    }
}
