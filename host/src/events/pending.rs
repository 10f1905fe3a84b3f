//! [`Pending`]: the targets events asked for that have not been rescanned yet, debounced per
//! resource. Each is kept in the store (`Queue::EventTargets`) from the moment it is added until
//! its rescan is done, so a queue message can be deleted as soon as its targets are added and a
//! crash loses nothing. A burst of events for one resource becomes one rescan, run a short delay
//! after the last event (which also lets AWS's eventual consistency settle), but never later
//! than `max_delay` after the first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Key, Target};
use crate::store::{Queue, Store, StoreError, queue_list_json, queue_put_json};

/// How targets wait.
#[derive(Debug, Clone, Copy)]
pub struct Debounce {
    /// Quiet time after a resource's last event before it is rescanned.
    pub delay: Duration,
    /// Longest wait after a resource's first event, however busy it stays.
    pub max_delay: Duration,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            // CloudTrail bursts (an SG with ten rules is ten events) arrive within a second or
            // two, and describe calls can lag a write by about as much.
            delay: Duration::from_secs(2),
            // A resource changed non-stop is still rescanned every half minute.
            max_delay: Duration::from_secs(30),
        }
    }
}

/// A target as the store keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    target: Target,
    /// Events seen for it since it was added.
    events: u64,
    #[serde(with = "time::serde::rfc3339")]
    first_seen: OffsetDateTime,
    /// Rescans tried and failed.
    #[serde(default)]
    attempts: u32,
}

struct Entry {
    stored: Stored,
    first: Instant,
    due: Instant,
}

/// Targets due for a rescan, taken from [`Pending`].
#[derive(Debug, Clone)]
pub struct Due {
    pub key: String,
    pub target: Target,
    /// Events folded into this target.
    pub events: u64,
    pub first_seen: OffsetDateTime,
    pub attempts: u32,
}

/// The debounced set of targets waiting for a rescan.
pub struct Pending {
    store: std::sync::Arc<dyn Store>,
    debounce: Debounce,
    /// Waiting targets by key. Taken ones are out of this map until `done` or `retry`.
    waiting: Mutex<HashMap<String, Entry>>,
    wake: Notify,
}

impl Pending {
    /// The set, with the targets a previous run left in the store due after one delay.
    pub fn load(
        store: std::sync::Arc<dyn Store>,
        debounce: Debounce,
    ) -> Result<Pending, StoreError> {
        let now = Instant::now();
        let waiting = queue_list_json::<Stored>(store.as_ref(), Queue::EventTargets, usize::MAX)?
            .into_iter()
            .map(|(key, stored)| {
                let entry = Entry {
                    stored,
                    first: now,
                    due: now + debounce.delay,
                };
                (key, entry)
            })
            .collect();
        Ok(Pending {
            store,
            debounce,
            waiting: Mutex::new(waiting),
            wake: Notify::new(),
        })
    }

    /// Adds targets (or pushes back the ones already waiting) and writes them to the store.
    /// Not flushed: the caller flushes once per batch before it acknowledges the messages.
    /// Returns how many were not waiting already.
    pub fn add(&self, targets: impl IntoIterator<Item = Target>) -> Result<usize, StoreError> {
        let now = Instant::now();
        let mut fresh = 0;
        let mut waiting = self.lock();
        for target in targets {
            let key = key(&target);
            let entry = waiting.entry(key.clone()).or_insert_with(|| {
                fresh += 1;
                Entry {
                    stored: Stored {
                        target: target.clone(),
                        events: 0,
                        first_seen: OffsetDateTime::now_utc(),
                        attempts: 0,
                    },
                    first: now,
                    due: now,
                }
            });
            entry.stored.events += 1;
            // A delete after a refresh (or the other way round) is still one rescan; the
            // latest action is what the log shows.
            entry.stored.target.action = target.action;
            entry.due = (now + self.debounce.delay).min(entry.first + self.debounce.max_delay);
            queue_put_json(
                self.store.as_ref(),
                Queue::EventTargets,
                &key,
                &entry.stored,
            )?;
        }
        drop(waiting);
        self.wake.notify_one();
        Ok(fresh)
    }

    /// Waits until some targets are due and takes every due one.
    pub async fn take_due(&self) -> Vec<Due> {
        loop {
            let next = {
                let mut waiting = self.lock();
                let now = Instant::now();
                let keys: Vec<String> = waiting
                    .iter()
                    .filter(|(_, e)| e.due <= now)
                    .map(|(k, _)| k.clone())
                    .collect();
                if !keys.is_empty() {
                    return keys
                        .into_iter()
                        .filter_map(|key| {
                            let e = waiting.remove(&key)?;
                            Some(Due {
                                key,
                                target: e.stored.target,
                                events: e.stored.events,
                                first_seen: e.stored.first_seen,
                                attempts: e.stored.attempts,
                            })
                        })
                        .collect();
                }
                waiting.values().map(|e| e.due).min()
            };
            match next {
                Some(due) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(due) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// The rescan of `due` finished: forget it, unless an event re-added it meanwhile (then
    /// the stored entry is the new one and must stay).
    pub fn done(&self, due: &Due) -> Result<(), StoreError> {
        let waiting = self.lock();
        if !waiting.contains_key(&due.key) {
            self.store.queue_remove(Queue::EventTargets, &due.key)?;
        }
        Ok(())
    }

    /// The rescan of `due` failed: try again after `after` (sooner if an event comes).
    pub fn retry(&self, due: Due, after: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut waiting = self.lock();
        if let Some(entry) = waiting.get_mut(&due.key) {
            entry.stored.attempts = due.attempts + 1;
            queue_put_json(
                self.store.as_ref(),
                Queue::EventTargets,
                &due.key,
                &entry.stored,
            )?;
            return Ok(());
        }
        let stored = Stored {
            target: due.target,
            events: due.events,
            first_seen: due.first_seen,
            attempts: due.attempts + 1,
        };
        queue_put_json(self.store.as_ref(), Queue::EventTargets, &due.key, &stored)?;
        waiting.insert(
            due.key,
            Entry {
                stored,
                first: now,
                due: now + after,
            },
        );
        drop(waiting);
        self.wake.notify_one();
        Ok(())
    }

    /// Targets waiting (not counting those being rescanned).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The store key of a target: one per resource, whatever the action.
fn key(t: &Target) -> String {
    let name = match &t.key {
        Key::Named(n) => n.as_str(),
        Key::All => "*",
    };
    format!("{}|{}|{}|{}", t.account_id, t.region, t.resource_type, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Action;
    use crate::store::SledStore;
    use std::sync::Arc;

    fn target(name: &str, action: Action) -> Target {
        Target {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            resource_type: "AWS.S3.Bucket".into(),
            key: Key::Named(name.into()),
            action,
        }
    }

    fn debounce(ms: u64) -> Debounce {
        Debounce {
            delay: Duration::from_millis(ms),
            max_delay: Duration::from_millis(ms * 5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_for_one_resource_is_one_target_due_after_the_quiet_delay() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let p = Pending::load(store, debounce(100)).unwrap();
        let t0 = Instant::now();
        assert_eq!(p.add([target("a", Action::Refresh)]).unwrap(), 1);
        tokio::time::advance(Duration::from_millis(60)).await;
        assert_eq!(
            p.add([target("a", Action::Refresh), target("b", Action::Refresh)])
                .unwrap(),
            1
        );
        tokio::time::advance(Duration::from_millis(30)).await;
        assert_eq!(p.add([target("a", Action::Delete)]).unwrap(), 0);
        let due = p.take_due().await;
        // "b" falls due 100 ms after it came (t0+160); "a" 100 ms after its last event (t0+190).
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].target.key, Key::Named("b".into()));
        assert_eq!(Instant::now() - t0, Duration::from_millis(160));
        let due = p.take_due().await;
        assert_eq!((due[0].events, due[0].target.action), (3, Action::Delete));
        assert_eq!(Instant::now() - t0, Duration::from_millis(190));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resource_changed_non_stop_is_still_due_after_the_longest_delay() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let p = Arc::new(Pending::load(store, debounce(100)).unwrap());
        let t0 = Instant::now();
        let feeder = {
            let p = p.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    p.add([target("busy", Action::Refresh)]).unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let due = p.take_due().await;
        assert_eq!(due.len(), 1);
        assert_eq!(Instant::now() - t0, Duration::from_millis(500));
        feeder.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn targets_survive_a_restart_until_done_and_a_target_re_added_during_its_rescan_stays() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let p = Pending::load(store.clone(), debounce(10)).unwrap();
        p.add([target("a", Action::Refresh), target("b", Action::Refresh)])
            .unwrap();
        drop(p);
        let p = Pending::load(store.clone(), debounce(10)).unwrap();
        let due = p.take_due().await;
        assert_eq!(due.len(), 2);
        // An event for "a" arrives while "a" is being rescanned.
        p.add([target("a", Action::Refresh)]).unwrap();
        for d in &due {
            p.done(d).unwrap();
        }
        let left = store.queue_list(Queue::EventTargets, 10).unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].0.ends_with("|a"));
        let due = p.take_due().await;
        p.done(&due[0]).unwrap();
        assert!(
            store
                .queue_list(Queue::EventTargets, 10)
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_rescan_is_retried_later_and_counts_attempts() {
        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let p = Pending::load(store, debounce(10)).unwrap();
        p.add([target("a", Action::Refresh)]).unwrap();
        let due = p.take_due().await.remove(0);
        let t0 = Instant::now();
        p.retry(due, Duration::from_secs(5)).unwrap();
        let again = p.take_due().await.remove(0);
        assert_eq!(again.attempts, 1);
        assert_eq!(Instant::now() - t0, Duration::from_secs(5));
    }
}
