//! The in-memory findings index of `SledStore`: one compact entry per stored finding, ordered
//! like the sled keys, so `query_findings` and `summarize_findings` filter and count without
//! decoding the stored JSON. Only the records of the returned page are read from sled.

use super::super::{FindingQuery, FindingRecord, FindingStatus, FindingSummary};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

/// The index as shared by every clone of a store: `None` until the first query builds it.
pub(super) type SharedIndex = Arc<RwLock<Option<FindingIndex>>>;

/// An interned string: its position in `Interner::names`.
type Sym = u32;

/// Every finding of the store, by (rule id, resource id), with what the filters look at.
pub(super) struct FindingIndex {
    entries: BTreeMap<IndexKey, IndexEntry>,
    strings: Interner,
}

/// A finding's key. Ordered like the sled key `rule \0 resource`: key components never contain
/// the separator, and a byte-wise `str` comparison orders a rule id before its extensions
/// exactly as the separator (the lowest byte) does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct IndexKey {
    /// The interned rule id (shared by every finding of the rule).
    rule: Arc<str>,
    resource: Box<str>,
}

impl IndexKey {
    /// The finding's rule id.
    pub(super) fn rule(&self) -> &str {
        &self.rule
    }

    /// The finding's resource id.
    pub(super) fn resource(&self) -> &str {
        &self.resource
    }

    /// Whether this key sorts after the cursor (rule id, resource id).
    fn is_after(&self, (rule, resource): &(String, String)) -> bool {
        (self.rule(), self.resource()) > (rule.as_str(), resource.as_str())
    }
}

/// What the query filters need of one finding: 24 bytes, strings interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexEntry {
    rule: Sym,
    account: Sym,
    resource_type: Sym,
    region: Sym,
    severity: Sym,
    status: FindingStatus,
    /// `closed_at` is set: the resource went away.
    closed: bool,
}

/// The fields of a stored finding the index keeps, decoded without the rest of the record
/// (no message, no timestamps): building the index decodes every stored finding once.
#[derive(Deserialize)]
pub(super) struct IndexedFields<'a> {
    #[serde(borrow)]
    account_id: Cow<'a, str>,
    #[serde(borrow)]
    resource_type: Cow<'a, str>,
    #[serde(borrow)]
    region: Cow<'a, str>,
    #[serde(borrow)]
    severity: Cow<'a, str>,
    status: FindingStatus,
    #[serde(default)]
    closed_at: Option<IgnoredAny>,
}

/// The findings of one query page: how many match in all, the first `limit` matches after the
/// cursor, and whether more matches follow them.
pub(super) struct Selection<'a> {
    pub(super) total: u64,
    pub(super) keys: Vec<&'a IndexKey>,
    pub(super) more: bool,
}

impl FindingIndex {
    /// An empty index.
    pub(super) fn new() -> FindingIndex {
        FindingIndex {
            entries: BTreeMap::new(),
            strings: Interner::default(),
        }
    }

    /// How many findings the index holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds or replaces the entry of a finding just written.
    pub(super) fn insert(&mut self, f: &FindingRecord) {
        self.insert_fields(
            &f.rule_id,
            &f.resource_id,
            IndexedFields {
                account_id: Cow::Borrowed(&f.account_id),
                resource_type: Cow::Borrowed(&f.resource_type),
                region: Cow::Borrowed(&f.region),
                severity: Cow::Borrowed(&f.severity),
                status: f.status,
                closed_at: f.closed_at.map(|_| IgnoredAny),
            },
        );
    }

    /// Adds or replaces the entry of the finding at (rule, resource) with fields read from sled.
    pub(super) fn insert_fields(&mut self, rule: &str, resource: &str, fields: IndexedFields<'_>) {
        let (rule_sym, rule) = self.strings.intern(rule);
        let entry = IndexEntry {
            rule: rule_sym,
            account: self.strings.intern(&fields.account_id).0,
            resource_type: self.strings.intern(&fields.resource_type).0,
            region: self.strings.intern(&fields.region).0,
            severity: self.strings.intern(&fields.severity).0,
            status: fields.status,
            closed: fields.closed_at.is_some(),
        };
        let key = IndexKey {
            rule,
            resource: resource.into(),
        };
        self.entries.insert(key, entry);
    }

    /// Removes the entry at (rule, resource); returns whether there was one.
    pub(super) fn remove(&mut self, rule: &str, resource: &str) -> bool {
        // A rule never interned has no findings; otherwise reuse its `Arc` for the lookup key.
        let Some(rule) = self.strings.get(rule).map(|sym| self.strings.name(sym)) else {
            return false;
        };
        let key = IndexKey {
            rule: Arc::clone(rule),
            resource: resource.into(),
        };
        self.entries.remove(&key).is_some()
    }

    /// Removes every entry of a rule; returns how many there were.
    pub(super) fn remove_rule(&mut self, rule: &str) -> u64 {
        let keys: Vec<IndexKey> = self.rule_range(rule).map(|(k, _)| k.clone()).collect();
        for key in &keys {
            self.entries.remove(key);
        }
        keys.len() as u64
    }

    /// The entries of one rule, or none when the rule was never seen.
    fn rule_range(&self, rule: &str) -> impl Iterator<Item = (&IndexKey, &IndexEntry)> {
        let start = self.strings.get(rule).map(|sym| IndexKey {
            rule: Arc::clone(self.strings.name(sym)),
            resource: Box::default(),
        });
        let known = start.is_some();
        let range = match start {
            Some(start) => self.entries.range(start..),
            None => self.entries.range(..),
        };
        range.take_while(move |(k, _)| known && k.rule() == rule)
    }

    /// The page `q` selects: matches counted over the whole index, keys collected after the
    /// cursor up to `q.limit`.
    pub(super) fn select(&self, q: &FindingQuery) -> Selection<'_> {
        let mut selection = Selection {
            total: 0,
            keys: Vec::with_capacity(q.limit.min(1024)),
            more: false,
        };
        // Keys come in order: once past the cursor every later key is too.
        let mut past_cursor = q.after.is_none();
        self.walk(q, |key, _| {
            selection.total += 1;
            if !past_cursor {
                past_cursor = q.after.as_ref().is_some_and(|after| key.is_after(after));
            }
            if past_cursor {
                if selection.keys.len() < q.limit {
                    selection.keys.push(key);
                } else if !selection.keys.is_empty() {
                    selection.more = true;
                }
            }
        });
        selection
    }

    /// Counts of the findings `q` selects (`after` and `limit` ignored).
    pub(super) fn summarize(&self, q: &FindingQuery) -> FindingSummary {
        let mut by_state = [0u64; STATES];
        // Counts by interned string, turned into names at the end.
        let mut failing: HashMap<Sym, FailingCounts> = HashMap::new();
        let mut total = 0;
        self.walk(q, |_, entry| {
            total += 1;
            by_state[state_slot(entry)] += 1;
            if !entry.closed && entry.status == FindingStatus::Fail {
                failing.entry(entry.severity).or_default().severity += 1;
                failing.entry(entry.rule).or_default().rule += 1;
                failing
                    .entry(entry.resource_type)
                    .or_default()
                    .resource_type += 1;
            }
        });
        let mut summary = FindingSummary {
            total,
            ..FindingSummary::default()
        };
        for (slot, count) in by_state.into_iter().enumerate() {
            if count > 0 {
                summary
                    .by_state
                    .insert(STATE_NAMES[slot].to_string(), count);
            }
        }
        for (sym, counts) in failing {
            let name = self.strings.name(sym);
            for (map, count) in [
                (&mut summary.failing_by_severity, counts.severity),
                (&mut summary.failing_by_rule, counts.rule),
                (&mut summary.failing_by_resource_type, counts.resource_type),
            ] {
                if count > 0 {
                    map.insert(name.to_string(), count);
                }
            }
        }
        summary
    }

    /// Calls `visit` on every entry `q`'s filters select, in key order (`after` and `limit`
    /// are the caller's business).
    fn walk<'a>(&'a self, q: &FindingQuery, mut visit: impl FnMut(&'a IndexKey, &'a IndexEntry)) {
        let Some(filter) = Filter::resolve(q, &self.strings) else {
            return;
        };
        match &q.rule_id {
            Some(rule) => self
                .rule_range(rule)
                .filter(|(_, e)| filter.matches(e))
                .for_each(|(k, e)| visit(k, e)),
            None => self
                .entries
                .iter()
                .filter(|(_, e)| filter.matches(e))
                .for_each(|(k, e)| visit(k, e)),
        }
    }
}

impl fmt::Debug for FindingIndex {
    /// The size only: a store's `Debug` must not print a hundred thousand entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FindingIndex")
            .field("findings", &self.entries.len())
            .field("strings", &self.strings.names.len())
            .finish()
    }
}

/// Open failing findings counted under one interned string, by the role the string plays.
#[derive(Default)]
struct FailingCounts {
    severity: u64,
    rule: u64,
    resource_type: u64,
}

/// How many `FindingState`s there are.
const STATES: usize = 5;
/// `FindingState::as_str()` of each state slot of `state_slot`.
const STATE_NAMES: [&str; STATES] = ["pass", "fail", "error", "suppressed", "closed"];

/// The slot of an entry's `FindingState` in `STATE_NAMES`.
fn state_slot(e: &IndexEntry) -> usize {
    if e.closed { 4 } else { status_slot(e.status) }
}

/// The slot of a status in `STATE_NAMES` (and its bit in `Filter::statuses`).
fn status_slot(s: FindingStatus) -> usize {
    match s {
        FindingStatus::Pass => 0,
        FindingStatus::Fail => 1,
        FindingStatus::Error => 2,
        FindingStatus::Suppressed => 3,
    }
}

/// A `FindingQuery`'s filters (rule aside, which picks the range) turned into interned symbols.
struct Filter {
    /// Bit `status_slot(s)` for each wanted status; 0 for any.
    statuses: u8,
    /// Wanted severities; empty for any.
    severities: Vec<Sym>,
    account: Option<Sym>,
    resource_type: Option<Sym>,
    region: Option<Sym>,
    include_closed: bool,
}

impl Filter {
    /// The filter of `q`, or `None` when it names a string no finding has (nothing matches).
    fn resolve(q: &FindingQuery, strings: &Interner) -> Option<Filter> {
        let severities: Vec<Sym> = q.severities.iter().filter_map(|s| strings.get(s)).collect();
        if !q.severities.is_empty() && severities.is_empty() {
            return None;
        }
        let lookup = |value: &Option<String>| match value {
            Some(v) => strings.get(v).map(Some),
            None => Some(None),
        };
        Some(Filter {
            statuses: q
                .statuses
                .iter()
                .fold(0, |bits, s| bits | 1 << status_slot(*s)),
            severities,
            account: lookup(&q.account_id)?,
            resource_type: lookup(&q.resource_type)?,
            region: lookup(&q.region)?,
            include_closed: q.include_closed,
        })
    }

    /// Whether an entry passes every filter.
    fn matches(&self, e: &IndexEntry) -> bool {
        (self.include_closed || !e.closed)
            && (self.statuses == 0 || self.statuses & (1 << status_slot(e.status)) != 0)
            && self.account.is_none_or(|a| a == e.account)
            && self.resource_type.is_none_or(|t| t == e.resource_type)
            && self.region.is_none_or(|r| r == e.region)
            && (self.severities.is_empty() || self.severities.contains(&e.severity))
    }
}

/// Each distinct rule id, account id, resource type and severity stored once. Strings are
/// never released: there are few of them, and dropping one would need reference counts.
#[derive(Default)]
struct Interner {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, Sym>,
}

impl Interner {
    /// The symbol of `s` and its shared string, adding it when new.
    fn intern(&mut self, s: &str) -> (Sym, Arc<str>) {
        if let Some(&sym) = self.ids.get(s) {
            return (sym, Arc::clone(self.name(sym)));
        }
        let sym = Sym::try_from(self.names.len()).expect("fewer than 2^32 distinct strings");
        let name: Arc<str> = Arc::from(s);
        self.names.push(Arc::clone(&name));
        self.ids.insert(Arc::clone(&name), sym);
        (sym, name)
    }

    /// The symbol of `s`, if it was ever interned.
    fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// The string of a symbol this interner handed out.
    fn name(&self, sym: Sym) -> &Arc<str> {
        &self.names[sym as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        assert!(std::mem::size_of::<IndexEntry>() <= 24);
    }

    #[test]
    fn key_order_matches_sled_key_order() {
        let key = |rule: &str, resource: &str| IndexKey {
            rule: rule.into(),
            resource: resource.into(),
        };
        let sled = |k: &IndexKey| [k.rule().as_bytes(), k.resource().as_bytes()].join(&0u8);
        let mut keys = vec![
            key("r1", "z"),
            key("r10", "a"),
            key("r1", "a"),
            key("r", "zz"),
            key("r1", "a-b"),
            key("r\u{e9}", "a"),
            key("r2", "a"),
        ];
        keys.sort();
        let mut by_bytes = keys.clone();
        by_bytes.sort_by_key(sled);
        assert_eq!(keys, by_bytes);
    }

    #[test]
    fn debug_prints_sizes_only() {
        let mut index = FindingIndex::new();
        let fields = || IndexedFields {
            account_id: "1".into(),
            resource_type: "t".into(),
            region: "us-east-1".into(),
            severity: "high".into(),
            status: FindingStatus::Fail,
            closed_at: None,
        };
        index.insert_fields("rule", "a", fields());
        index.insert_fields("rule", "b", fields());
        let debug = format!("{index:?}");
        assert_eq!(debug, "FindingIndex { findings: 2, strings: 5 }");
    }
}
