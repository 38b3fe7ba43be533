//! The one error for a file, socket or address fare could not use: what it
//! was doing, to what, and the operating system's reason. The error enums
//! of the runtime, the containers and the fakes each hold it, so the
//! wording is the same wherever a user meets it.

use std::path::{Path, PathBuf};

/// `{action} {path}: {source}`, as "creating /tmp/x: Permission denied".
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", path.display())]
pub struct IoError {
    /// What fare was doing, worded to go before the path ("listening on").
    pub action: &'static str,
    /// What it was done to: a file or directory, a socket, or an address
    /// or name where there is no file (`127.0.0.1`, a fake's name).
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Makes an [`IoError`] of an `std::io::Error`, for `map_err`:
/// `std::fs::write(&p, b"").map_err(io("creating", &p))?`.
pub fn io(action: &'static str, path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> IoError {
    let path = path.as_ref().to_owned();
    move |source| IoError { action, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_was_done_to_what_and_why() {
        let e = io("creating", "/tmp/x")(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(e.to_string(), "creating /tmp/x: permission denied");
        assert!(std::error::Error::source(&e).is_some(), "the system's error is kept as the source");
    }
}
