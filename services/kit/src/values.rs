//! Values more than one service parses the same way: an email address and
//! a short piece of text. Each can only be built by parsing, and serde
//! parses through `try_from`, so the JSON extractor names the field at fault.

use serde::{Deserialize, Serialize};

/// An email address that looks deliverable: one `@` between a non-empty
/// local part and a dotted domain, no spaces, at most 254 characters;
/// trimmed and lower-cased, so one address is one account however typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` does not look like an email address (expected name@domain.tld)")]
pub struct BadEmail {
    /// The start of what was given (80 characters at most).
    pub value: String,
}

impl Email {
    /// The longest address SMTP can carry.
    const MAX: usize = 254;

    pub fn parse(value: &str) -> Result<Email, BadEmail> {
        let value = value.trim();
        let well_formed = value.len() <= Email::MAX
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|label| !label.is_empty())
            });
        match well_formed {
            true => Ok(Email(value.to_lowercase())),
            false => Err(BadEmail { value: value.chars().take(80).collect() }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = BadEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.0
    }
}

/// Trimmed, non-empty text of at most 200 characters: a name, a line of an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadText {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters long")]
    TooLong { max: usize },
}

impl Text {
    const MAX: usize = 200;

    pub fn parse(value: &str) -> Result<Text, BadText> {
        let value = value.trim();
        match value.chars().count() {
            0 => Err(BadText::Empty),
            n if n > Text::MAX => Err(BadText::TooLong { max: Text::MAX }),
            _ => Ok(Text(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = BadText;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Text::parse(&value)
    }
}

impl From<Text> for String {
    fn from(value: Text) -> String {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lower_cased_and_must_have_a_domain() {
        assert_eq!(Email::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn text_is_trimmed_and_must_have_content() {
        assert_eq!(Text::parse("   "), Err(BadText::Empty));
        assert_eq!(Text::parse(" Ada ").unwrap().as_str(), "Ada");
        assert_eq!(Text::parse(&"n".repeat(201)), Err(BadText::TooLong { max: 200 }));
    }
}
