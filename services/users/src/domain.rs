//! The values a sign-up is made of. Each can only be built by parsing, so a
//! handler holding one knows it is valid; serde parses them through
//! `try_from`, which lets the JSON extractor name the field at fault.

use std::fmt;

use serde::Deserialize;

pub use kit::values::Email;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadValue {
    #[error("must be at least {min} characters long")]
    PasswordTooShort { min: usize },
    #[error("must be at most {max} characters long")]
    PasswordTooLong { max: usize },
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
pub type Name = kit::values::Text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_count_characters_and_never_show() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        // Seven characters in fourteen bytes: characters are what count.
        assert!(Password::parse("ééééééé".into()).is_err());
        assert!(Password::parse("x".repeat(1025)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret-secret".into()).unwrap()), "Password(<redacted>)");
    }
}
