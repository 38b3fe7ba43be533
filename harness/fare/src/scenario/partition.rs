//! `fare e2e --partition KIND:M/N`: the share of the scenarios one CI
//! runner takes when a run is sharded across N of them, spelled and dealt
//! as cargo-nextest deals tests:
//!
//! - `count:M/N` sorts the scenarios by name and deals them round-robin:
//!   the first to partition 1, the second to 2, …, the N+1th to 1 again.
//!   Shares differ by one scenario at most, but adding a scenario moves
//!   those after it.
//! - `hash:M/N` puts each scenario in partition `fnv1a(name) mod N + 1`,
//!   where `fnv1a` is 64-bit FNV-1a over the name's UTF-8 bytes: a
//!   scenario stays in its partition whatever else is added, on every
//!   machine and every release (never std's randomly seeded hasher).
//!
//! Either way every scenario is in exactly one of the N partitions.
//! Partitioning only chooses; how the chosen scenarios run (side by side,
//! or alone for those that stop services) is the scheduler's call as ever.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One partition of N, 1-based as it is written: `hash:2/3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    kind: Kind,
    index: u32,
    count: u32,
}

/// How scenarios are dealt between partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Round-robin in the names' sorted order.
    Count,
    /// By FNV-1a of the name.
    Hash,
}

/// The forms `--partition` takes, for every message about it.
pub const EXPECTED: &str = "`count:M/N` or `hash:M/N` with 1 ≤ M ≤ N (e.g. `hash:1/3`)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("`{given}` has no kind: expected {EXPECTED}")]
    NoKind { given: String },
    #[error("unknown kind `{kind}` in `{given}`: expected {EXPECTED}")]
    UnknownKind { given: String, kind: String },
    #[error("`{given}` is not M/N with whole numbers M and N: expected {EXPECTED}")]
    NotAFraction { given: String },
    #[error("`{given}`: N, the number of partitions, must be at least 1: expected {EXPECTED}")]
    NoPartitions { given: String },
    #[error("`{given}`: M must be from 1 to {count} (partitions are numbered from 1): expected {EXPECTED}")]
    OutOfRange { given: String, count: u32 },
}

impl Partition {
    /// Partition `index` (from 1) of `count`.
    pub fn new(kind: Kind, index: u32, count: u32) -> Result<Partition, PartitionError> {
        Partition::from_str(&format!("{kind}:{index}/{count}"))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// M, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// N.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The items of this partition, in their given order; `name` is what
    /// they are dealt by (a scenario's name).
    pub fn select<T>(&self, items: Vec<T>, name: impl Fn(&T) -> &str) -> Vec<T> {
        let count = u64::from(self.count);
        let mine = u64::from(self.index - 1);
        let keep: Vec<bool> = match self.kind {
            Kind::Hash => items.iter().map(|item| fnv1a(name(item).as_bytes()) % count == mine).collect(),
            Kind::Count => {
                let mut order: Vec<usize> = (0..items.len()).collect();
                order.sort_by(|&a, &b| name(&items[a]).cmp(name(&items[b])));
                let mut keep = vec![false; items.len()];
                for (dealt, &i) in order.iter().enumerate() {
                    keep[i] = dealt as u64 % count == mine;
                }
                keep
            }
        };
        items.into_iter().zip(keep).filter_map(|(item, keep)| keep.then_some(item)).collect()
    }
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(given: &str) -> Result<Partition, PartitionError> {
        let owned = || given.to_owned();
        let (kind, fraction) = given.split_once(':').ok_or_else(|| PartitionError::NoKind { given: owned() })?;
        let kind = match kind.trim() {
            "count" => Kind::Count,
            "hash" => Kind::Hash,
            other => return Err(PartitionError::UnknownKind { given: owned(), kind: other.to_owned() }),
        };
        let (index, count) = fraction
            .split_once('/')
            .and_then(|(m, n)| Some((m.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)))
            .ok_or_else(|| PartitionError::NotAFraction { given: owned() })?;
        if count == 0 {
            return Err(PartitionError::NoPartitions { given: owned() });
        }
        if !(1..=count).contains(&index) {
            return Err(PartitionError::OutOfRange { given: owned(), count });
        }
        Ok(Partition { kind, index, count })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Count => "count",
            Kind::Hash => "hash",
        })
    }
}

impl fmt::Display for Partition {
    /// As it is written on the command line: `hash:2/3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.index, self.count)
    }
}

impl Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a partitioned run ran: its partition, and of how many scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Share {
    pub partition: Partition,
    /// The scenarios it chose from, every partition's together.
    pub of: usize,
}

impl Share {
    /// `partition hash:1/3: 4 of 13 scenarios`, for `ran` of them; an empty
    /// partition says that it passes.
    pub fn line(&self, ran: usize) -> String {
        match ran {
            0 => {
                format!("partition {}: none of the {} scenarios; nothing to run, which passes", self.partition, self.of)
            }
            _ => format!("partition {}: {ran} of {} scenarios", self.partition, self.of),
        }
    }
}

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3):
/// fixed by its definition, so a name hashes alike everywhere.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// The scenarios' names as they are in scenarios/, and a few more.
    fn names() -> Vec<String> {
        let mut names: Vec<String> = [
            "order-delivered",
            "fulfillment-down",
            "carrier-late",
            "duplicate-delivery",
            "poison-message",
            "store-restarted",
            "mail-provider-failing",
            "invoice-issued",
            "loyalty-stays-down",
            "device-out-of-stock",
            "session-expired",
            "two-orders",
            "points-awarded",
        ]
        .map(String::from)
        .into();
        names.extend((0..40).map(|i| format!("generated-{i:02}")));
        names
    }

    fn partitions(kind: Kind, count: u32) -> Vec<Vec<String>> {
        (1..=count).map(|m| Partition::new(kind, m, count).unwrap().select(names(), |n| n.as_str())).collect()
    }

    fn assert_disjoint_and_whole(kind: Kind, count: u32) {
        let parts = partitions(kind, count);
        let all: BTreeSet<String> = names().into_iter().collect();
        let mut union = BTreeSet::new();
        for (m, part) in parts.iter().enumerate() {
            for name in part {
                assert!(union.insert(name.clone()), "{kind}:{}/{count}: {name} is in two partitions", m + 1);
            }
        }
        assert_eq!(union, all, "{kind}:M/{count}: the partitions together are every name");
    }

    #[test]
    fn hash_partitions_are_disjoint_and_cover_every_name() {
        assert_disjoint_and_whole(Kind::Hash, 3);
        for count in [1, 2, 5, 60] {
            assert_disjoint_and_whole(Kind::Hash, count);
        }
    }

    #[test]
    fn count_partitions_are_disjoint_cover_every_name_and_differ_by_one_at_most() {
        assert_disjoint_and_whole(Kind::Count, 3);
        for count in [1, 2, 5, 60] {
            assert_disjoint_and_whole(Kind::Count, count);
        }
        let sizes: Vec<usize> = partitions(Kind::Count, 3).iter().map(Vec::len).collect();
        assert_eq!(sizes, [18, 18, 17], "53 names dealt three ways");
    }

    #[test]
    fn count_deals_round_robin_in_sorted_order_and_keeps_the_given_order() {
        let items = vec!["d", "b", "a", "c", "e"];
        let part = |m| Partition::new(Kind::Count, m, 2).unwrap().select(items.clone(), |s| s);
        // Sorted: a b c d e → 1: a c e, 2: b d; each in the order given.
        assert_eq!((part(1), part(2)), (vec!["a", "c", "e"], vec!["d", "b"]));
    }

    #[test]
    fn hash_is_fnv1a_and_a_name_stays_put_whatever_else_is_added() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        let partition = Partition::new(Kind::Hash, 2, 3).unwrap();
        let alone = partition.select(names(), |n| n.as_str());
        let mut more = names();
        more.extend((0..100).map(|i| format!("added-{i}")));
        let with_more = partition.select(more, |n| n.as_str());
        assert!(alone.iter().all(|n| with_more.contains(n)), "{alone:?} stay in hash:2/3");
    }

    #[test]
    fn partitions_read_as_nextest_writes_them_and_print_back() {
        for text in ["count:1/1", "count:2/3", "hash:3/3", "hash:1/12"] {
            assert_eq!(text.parse::<Partition>().unwrap().to_string(), text);
        }
        let p: Partition = "hash:2/3".parse().unwrap();
        assert_eq!((p.kind(), p.index(), p.count()), (Kind::Hash, 2, 3));
    }

    #[test]
    fn a_bad_partition_says_what_is_wrong_and_the_form_expected() {
        let err = |text: &str| text.parse::<Partition>().unwrap_err();
        assert!(matches!(err("hash:0/3"), PartitionError::OutOfRange { count: 3, .. }));
        assert!(matches!(err("hash:4/3"), PartitionError::OutOfRange { count: 3, .. }));
        assert!(matches!(err("hash:1/0"), PartitionError::NoPartitions { .. }));
        assert!(matches!(err("foo:1/2"), PartitionError::UnknownKind { kind, .. } if kind == "foo"));
        assert!(matches!(err("1/2"), PartitionError::NoKind { .. }));
        assert!(matches!(err("hash:1"), PartitionError::NotAFraction { .. }));
        assert!(matches!(err("hash:a/3"), PartitionError::NotAFraction { .. }));
        assert!(matches!(err("hash:-1/3"), PartitionError::NotAFraction { .. }));
        for text in ["hash:0/3", "hash:4/3", "foo:1/2", "1/2", "hash:1/0", "hash:x/y"] {
            let message = err(text).to_string();
            assert!(message.contains(text), "{message}");
            assert!(message.contains("`count:M/N` or `hash:M/N`"), "{message}");
        }
        assert!(err("hash:4/3").to_string().contains("from 1 to 3"));
    }

    /// The real scenarios: each lands in one partition, and the ones that
    /// must run alone are still the ones that must run alone.
    #[test]
    fn the_scenarios_of_the_repository_split_with_their_exclusive_ones_intact() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (topology, _) = crate::load_topology(&manifest.join("../../services")).unwrap();
        let all = crate::scenario::load_dir(&manifest.join("../../scenarios"), &[], &topology).unwrap();
        let exclusive = |list: &[crate::scenario::Scenario]| -> BTreeSet<String> {
            list.iter().filter(|s| s.exclusive()).map(|s| s.name.clone()).collect()
        };
        assert!(!exclusive(&all).is_empty(), "some scenario of scenarios/ stops a service");
        for kind in [Kind::Hash, Kind::Count] {
            let parts: Vec<Vec<crate::scenario::Scenario>> =
                (1..=3).map(|m| Partition::new(kind, m, 3).unwrap().select(all.clone(), |s| s.name.as_str())).collect();
            assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), all.len(), "{kind}");
            let exclusive_in_parts: BTreeSet<String> = parts.iter().flat_map(|p| exclusive(p)).collect();
            assert_eq!(exclusive_in_parts, exclusive(&all), "{kind}");
        }
    }
}
