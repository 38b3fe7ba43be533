//! The models on sale and their prices, read once at startup from
//! `STORE_CATALOG` and `STORE_CURRENCY`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What `STORE_CATALOG` must look like: the text of a startup error.
pub const CATALOG_FORMAT: &str = "comma-separated model=price_cents pairs with distinct lower-case models and positive prices, \
     such as `phone-basic=19900,phone-pro=99900`";

/// Model name → price in cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog(BTreeMap<String, i64>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCatalog {
    #[error("the catalog is empty")]
    Empty,
    #[error("`{0}` is not model=price_cents")]
    Entry(String),
    #[error("`{0}` is listed twice")]
    Duplicate(String),
}

impl Catalog {
    pub fn price_cents(&self, model: &str) -> Option<i64> {
        self.0.get(model).copied()
    }

    /// The models on sale, for messages that list them.
    pub fn models(&self) -> String {
        self.0.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }
}

impl FromStr for Catalog {
    type Err = BadCatalog;

    fn from_str(text: &str) -> Result<Catalog, BadCatalog> {
        let mut models = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || BadCatalog::Entry(entry.to_owned());
            let (model, price) = entry.split_once('=').ok_or_else(bad)?;
            let model = model.trim();
            let good_model = !model.is_empty()
                && model.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            let price: i64 = price.trim().parse().map_err(|_| bad())?;
            if !good_model || price <= 0 {
                return Err(bad());
            }
            if models.insert(model.to_owned(), price).is_some() {
                return Err(BadCatalog::Duplicate(model.to_owned()));
            }
        }
        if models.is_empty() {
            return Err(BadCatalog::Empty);
        }
        Ok(Catalog(models))
    }
}

/// An ISO 4217 code: three upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a three-letter currency code")]
pub struct BadCurrency(String);

impl FromStr for Currency {
    type Err = BadCurrency;

    fn from_str(text: &str) -> Result<Currency, BadCurrency> {
        if text.len() == 3 && text.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Currency(text.to_owned()))
        } else {
            Err(BadCurrency(text.to_owned()))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_parses() {
        let catalog: Catalog = "phone-basic=19900, phone-pro=99900".parse().unwrap();
        assert_eq!(catalog.price_cents("phone-pro"), Some(99900));
        assert_eq!(catalog.price_cents("phone-max"), None);
        assert_eq!(catalog.models(), "phone-basic, phone-pro");
    }

    #[test]
    fn bad_catalogs_say_what_is_wrong() {
        assert_eq!("".parse::<Catalog>(), Err(BadCatalog::Empty));
        assert_eq!("phone".parse::<Catalog>(), Err(BadCatalog::Entry("phone".into())));
        assert_eq!("phone=abc".parse::<Catalog>(), Err(BadCatalog::Entry("phone=abc".into())));
        assert_eq!("phone=0".parse::<Catalog>(), Err(BadCatalog::Entry("phone=0".into())));
        assert_eq!("Phone=1".parse::<Catalog>(), Err(BadCatalog::Entry("Phone=1".into())));
        assert_eq!("a=1,a=2".parse::<Catalog>(), Err(BadCatalog::Duplicate("a".into())));
    }

    #[test]
    fn currencies_are_three_capitals() {
        assert!("EUR".parse::<Currency>().is_ok());
        for bad in ["eur", "EURO", "E1R", ""] {
            assert!(bad.parse::<Currency>().is_err(), "{bad:?}");
        }
    }
}
