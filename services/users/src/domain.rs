//! The values a sign-up is made of. Each can only be built by parsing, so a
//! handler holding one knows it is valid; serde parses them through
//! `try_from`, which lets the JSON extractor name the field at fault.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An email address that looks deliverable, lower-cased so that one
/// address is one account however it is typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadValue {
    #[error("`{0}` does not look like an email address (expected name@domain.tld)")]
    Email(String),
    #[error("must be at least {min} characters long")]
    PasswordTooShort { min: usize },
    #[error("must be at most {max} characters long")]
    PasswordTooLong { max: usize },
    #[error("must not be empty")]
    EmptyName,
    #[error("must be at most {max} characters long")]
    NameTooLong { max: usize },
}

impl Email {
    /// The longest address SMTP can carry.
    const MAX: usize = 254;

    pub fn parse(value: &str) -> Result<Email, BadValue> {
        let value = value.trim();
        let bad = || BadValue::Email(value.chars().take(80).collect());
        let (local, domain) = value.split_once('@').ok_or_else(bad)?;
        let well_formed = value.len() <= Email::MAX
            && !local.is_empty()
            && !domain.contains('@')
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && domain.split('.').count() >= 2
            && domain.split('.').all(|label| !label.is_empty());
        if well_formed { Ok(Email(value.to_lowercase())) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = BadValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.0
    }
}

/// A new password, long enough to be worth hashing. Never printed.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    const MIN: usize = 8;
    /// Bounds the work one sign-up can ask of the hasher.
    const MAX: usize = 1024;

    pub fn parse(value: String) -> Result<Password, BadValue> {
        match value.chars().count() {
            n if n < Password::MIN => Err(BadValue::PasswordTooShort { min: Password::MIN }),
            n if n > Password::MAX => Err(BadValue::PasswordTooLong { max: Password::MAX }),
            _ => Ok(Password(value)),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = BadValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Password::parse(value)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A display name: something to greet the user with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    const MAX: usize = 200;

    pub fn parse(value: &str) -> Result<Name, BadValue> {
        let value = value.trim();
        match value.chars().count() {
            0 => Err(BadValue::EmptyName),
            n if n > Name::MAX => Err(BadValue::NameTooLong { max: Name::MAX }),
            _ => Ok(Name(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = BadValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Name::parse(&value)
    }
}

impl From<Name> for String {
    fn from(value: Name) -> String {
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
    fn passwords_count_characters_and_never_show() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        // Seven characters in fourteen bytes: characters are what count.
        assert!(Password::parse("ééééééé".into()).is_err());
        assert!(Password::parse("x".repeat(1025)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret-secret".into()).unwrap()), "Password(<redacted>)");
    }

    #[test]
    fn names_must_have_content() {
        assert!(Name::parse("   ").is_err());
        assert_eq!(Name::parse(" Ada ").unwrap().as_str(), "Ada");
        assert!(Name::parse(&"n".repeat(201)).is_err());
    }
}
