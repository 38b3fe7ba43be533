//! The values devices accepts from outside: models, serials and the stock
//! to seed. Each parses or refuses; nothing else makes one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A device model such as `phone-basic`: 1 to 64 lower-case letters, digits
/// or '-', starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Model(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a model; expected 1 to 64 lower-case letters, digits or '-', starting with a letter")]
pub struct BadModel {
    pub value: String,
}

impl Model {
    pub fn parse(value: &str) -> Result<Model, BadModel> {
        let ok = (1..=64).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok { Ok(Model(value.to_owned())) } else { Err(BadModel { value: value.to_owned() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Model {
    type Error = BadModel;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Model::parse(&value)
    }
}

impl From<Model> for String {
    fn from(value: Model) -> String {
        value.0
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device's serial number: 1 to 64 letters, digits, '-', '_' or '.'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a serial; expected 1 to 64 letters, digits, '-', '_' or '.'")]
pub struct BadSerial {
    pub value: String,
}

impl Serial {
    pub fn parse(value: &str) -> Result<Serial, BadSerial> {
        let ok = (1..=64).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok { Ok(Serial(value.to_owned())) } else { Err(BadSerial { value: value.to_owned() }) }
    }

    /// The serial of the `n`th seeded device of `model`: `phone-basic-0001`.
    pub fn seeded(model: &Model, n: u32) -> Serial {
        Serial(format!("{model}-{n:04}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Serial {
    type Error = BadSerial;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Serial::parse(&value)
    }
}

impl From<Serial> for String {
    fn from(value: Serial) -> String {
        value.0
    }
}

/// The devices to seed per model: `phone-basic=50,phone-pro=20`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stock(Vec<(Model, u32)>);

/// More than this per model is surely a typo, and would slow every start.
const MAX_SEEDED: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadStock {
    #[error("`{pair}` is not `model=count`")]
    Pair { pair: String },
    #[error(transparent)]
    Model(#[from] BadModel),
    #[error("`{count}` for {model} is not a count from 0 to {MAX_SEEDED}")]
    Count { model: String, count: String },
    #[error("{model} is listed twice")]
    Repeated { model: String },
}

impl Stock {
    pub fn entries(&self) -> &[(Model, u32)] {
        &self.0
    }
}

impl FromStr for Stock {
    type Err = BadStock;

    fn from_str(text: &str) -> Result<Stock, BadStock> {
        let mut entries: Vec<(Model, u32)> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (model, count) = pair.split_once('=').ok_or_else(|| BadStock::Pair { pair: pair.to_owned() })?;
            let model = Model::parse(model.trim())?;
            let count = count
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_SEEDED)
                .ok_or_else(|| BadStock::Count { model: model.to_string(), count: count.trim().to_owned() })?;
            if entries.iter().any(|(m, _)| *m == model) {
                return Err(BadStock::Repeated { model: model.to_string() });
            }
            entries.push((model, count));
        }
        Ok(Stock(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_lower_case_words() {
        assert!(Model::parse("phone-pro2").is_ok());
        for bad in ["", "Phone", "-phone", "phone pro", "2phone", &"a".repeat(65)] {
            assert!(Model::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn serials_refuse_spaces_and_slashes() {
        assert!(Serial::parse("SN-001_a.b").is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(65)] {
            assert!(Serial::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(Serial::seeded(&Model::parse("phone-basic").unwrap(), 7).as_str(), "phone-basic-0007");
    }

    #[test]
    fn stock_parses_pairs_and_names_what_is_wrong() {
        let stock: Stock = " phone-basic=50, phone-pro=0 ,".parse().unwrap();
        assert_eq!(stock.entries().len(), 2);
        assert_eq!(stock.entries()[0], (Model::parse("phone-basic").unwrap(), 50));
        assert_eq!("".parse::<Stock>().unwrap(), Stock::default());
        assert!(matches!("phone".parse::<Stock>(), Err(BadStock::Pair { .. })));
        assert!(matches!("Phone=1".parse::<Stock>(), Err(BadStock::Model(_))));
        assert!(matches!("phone=-1".parse::<Stock>(), Err(BadStock::Count { .. })));
        assert!(matches!("phone=1,phone=2".parse::<Stock>(), Err(BadStock::Repeated { .. })));
    }
}
