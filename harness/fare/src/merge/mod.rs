//! Merging what the partitions of one run (`fare e2e --partition`) wrote
//! back into what one unpartitioned run would have written: its JUnit XML
//! (the same tests, failures, errors, skipped and time) and its record
//! (which `fare contracts coverage --record` reads). Every scenario runs in
//! one partition, so two inputs that both hold one are refused: the
//! partitions overlap, or a file was given twice.
//!
//! # Layout
//! - `junit`: JUnit documents, suites of one name made one, cases in their files' order.
//! - `record`: run records, their events, spans and scenarios put together.

pub mod junit;
pub mod record;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give the files each partition wrote")]
    NoInput,
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Junit {
        path: PathBuf,
        #[source]
        source: crate::junit::ReadError,
    },
    #[error(transparent)]
    Record(#[from] crate::trace::SavedError),
    #[error(
        "{what} is in both {} and {}: the partitions overlap, or one file was given twice",
        first.display(),
        second.display()
    )]
    Overlap { what: String, first: PathBuf, second: PathBuf },
}

/// Reads every input with `read`, refusing an empty list.
fn read_all<T>(
    inputs: &[PathBuf],
    read: impl Fn(&PathBuf) -> Result<T, MergeError>,
) -> Result<Vec<(PathBuf, T)>, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoInput);
    }
    inputs.iter().map(|path| Ok((path.clone(), read(path)?))).collect()
}

/// Which input holds what: the second input to claim a key is an overlap
/// (an input may hold a key more than once: a duplicated delivery is one
/// event twice in one record).
struct Claims<K> {
    seen: std::collections::BTreeMap<K, usize>,
}

impl<K: Ord> Claims<K> {
    fn new() -> Claims<K> {
        Claims { seen: Default::default() }
    }

    /// Input `input` (of `inputs`) holds `key`.
    fn claim(
        &mut self,
        key: K,
        input: usize,
        inputs: &[PathBuf],
        what: impl FnOnce() -> String,
    ) -> Result<(), MergeError> {
        match *self.seen.entry(key).or_insert(input) {
            first if first == input => Ok(()),
            first => {
                let path = |i: usize| inputs.get(i).cloned().unwrap_or_default();
                Err(MergeError::Overlap { what: what(), first: path(first), second: path(input) })
            }
        }
    }
}
