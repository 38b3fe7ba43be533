//! The values mailer passes on: a user id goes into the users service's URL
//! path, an email address to the provider. Parsing is the only way in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// 1 to 128 letters, digits, `-`, `_`, `.` or `:`: nothing that changes a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a user id; expected 1 to 128 letters, digits, '-', '_', '.' or ':'")]
pub struct BadUserId {
    pub value: String,
}

impl UserId {
    pub fn parse(value: &str) -> Result<UserId, BadUserId> {
        let ok = (1..=128).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok { Ok(UserId(value.to_owned())) } else { Err(BadUserId { value: value.to_owned() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = BadUserId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        UserId::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> String {
        value.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub use kit::values::{BadEmail, Email};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_cannot_change_a_path() {
        assert!(UserId::parse("u-1:a_b.c").is_ok());
        for bad in ["", "a/b", "../x", "a b", "a?b", &"x".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("ada@example.com").is_ok());
        for bad in ["", "ada", "@example.com", "ada@", "ada@localhost", "a@b@c.d", "ada @x.com", "ada@x..com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
