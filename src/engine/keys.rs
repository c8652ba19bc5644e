//! Ordering keys and deduplication keys, shared by the calls that publish, settle, expire,
//! replay and purge messages.
//!
//! Ordering: a key's publishers take its row in `mq.ordering_keys` (lifecycle/publish_keyed.sql);
//! only the key's head is deliverable, the others WAIT. When messages of keys finish, the keys
//! are released ([`release`]): the next message of each key becomes deliverable, or the key is
//! blocked by a dead letter when its topic's `ordering_dead_letter` is `block`. The keys are
//! locked first, in a fixed order, by a statement of its own ([`lock`]), so that the release
//! sees every message their publishers committed meanwhile.
//!
//! Deduplication: a publish with a dedup key takes the key's row in `mq.dedup_keys` for a new
//! message id, or learns the id of the message holding it ([`dedup`]).

use std::collections::HashMap;

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::spi::SpiClient;

use mq_core::topics::OrderingDeadLetter;

use crate::engine::topics;
use crate::pg::statements::Statement;
use crate::pg::wakeup;

/// A message of an ordering key that finished (completed, dead-lettered, expired).
#[derive(Debug, Clone)]
pub struct Finished {
    pub topic: String,
    /// '' for point-to-point.
    pub group: String,
    pub key: String,
    pub id: i64,
    /// Whether it was the key's head (deliverable or in flight), not one WAITING behind it.
    pub was_head: bool,
    /// Why it did not complete: 'dead-lettered' or 'expired'; None when it completed.
    pub dead: Option<&'static str>,
}

/// Locks the rows of the keys (topic, group, key) until the transaction ends.
pub fn lock(client: &mut SpiClient<'_>, keys: &[(String, String, String)]) {
    if keys.is_empty() {
        return;
    }
    let (topics, groups, names): (Vec<String>, Vec<String>, Vec<String>) = keys
        .iter()
        .cloned()
        .fold(Default::default(), |mut acc, (t, g, k)| {
            acc.0.push(t);
            acc.1.push(g);
            acc.2.push(k);
            acc
        });
    Statement::LockKeys.run(client, &[topics.into(), groups.into(), names.into()]);
}

/// Releases the keys of `finished`: locks them, counts the messages off, blocks the keys whose
/// head was dead-lettered in a topic that blocks, and makes each key's next message
/// deliverable (waking its pollers at commit).
pub fn release(client: &mut SpiClient<'_>, finished: &[Finished], now: TimestampWithTimeZone) {
    if finished.is_empty() {
        return;
    }
    let mut keys: Vec<(String, String, String)> = finished
        .iter()
        .map(|f| (f.topic.clone(), f.group.clone(), f.key.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    // A statement of its own: the release's snapshot must see what the keys' publishers
    // committed while their rows were waited for (an UPDATE that waits re-reads the row it
    // waited for, not the messages the publisher added). Taken in a fixed order: two
    // transactions taking the same keys cannot deadlock.
    lock(client, &keys);
    let blocks = |f: &Finished| {
        f.was_head
            && f.dead.is_some()
            && topics::with(&f.topic, |t| {
                t.and_then(|t| t.settings.ordering_dead_letter) == Some(OrderingDeadLetter::Block)
            })
    };
    let mut topics_a = Vec::new();
    let mut groups = Vec::new();
    let mut names = Vec::new();
    let mut counts = Vec::new();
    let mut block_ids: Vec<Option<i64>> = Vec::new();
    let mut reasons: Vec<Option<&str>> = Vec::new();
    let mut heads = Vec::new();
    for f in finished {
        heads.push(f.was_head);
        topics_a.push(f.topic.clone());
        groups.push(f.group.clone());
        names.push(f.key.clone());
        counts.push(1_i64);
        let block = blocks(f);
        block_ids.push(block.then_some(f.id));
        reasons.push(if block { f.dead } else { None });
    }
    for row in Statement::ReleaseKeys
        .run(
            client,
            &[
                topics_a.into(),
                groups.into(),
                names.into(),
                counts.into(),
                block_ids.into(),
                reasons.into(),
                now.into(),
                heads.into(),
            ],
        )
        .iter()
    {
        let group = row.get::<String>("consumer_group");
        wakeup::notify_delivery_on_commit(&row.value::<String>("topic"), group.as_deref());
    }
}

/// After waiting messages of `topic` (of one group, when given) were removed: its keys keep
/// what is in flight and are unblocked; keys left with nothing are forgotten.
pub fn reconcile(
    client: &mut SpiClient<'_>,
    topic: &str,
    group: Option<&str>,
    now: TimestampWithTimeZone,
) {
    Statement::ReconcileKeys.run(client, &[topic.into(), group.into(), now.into()]);
}

/// What deduplication decided for a batch's elements.
pub struct Dedup {
    /// Per element: the id of the message it publishes (drawn beforehand), or None (it has no
    /// dedup key: the id is drawn as it is inserted).
    pub new_ids: Vec<Option<i64>>,
    /// Per element: the id of the earlier message it duplicates (nothing is published for it).
    pub duplicate_of: Vec<Option<i64>>,
}

/// Takes the dedup keys of a batch (`keys[i]` of element i) in `topic` for `window`: the first
/// element of each key not taken by a message of the last `window` publishes a new message (its
/// id drawn now); every other element with a key returns the id of the message holding it (a
/// later duplicate within the batch: the first one's).
pub fn dedup(
    client: &mut SpiClient<'_>,
    topic: &str,
    keys: &[Option<String>],
    window: Interval,
    now: TimestampWithTimeZone,
) -> Dedup {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if let Some(key) = key {
            first.entry(key.as_str()).or_insert(i);
        }
    }
    let mut distinct: Vec<String> = first.keys().map(|k| (*k).to_owned()).collect();
    distinct.sort();
    let mut taken: HashMap<String, i64> = HashMap::new();
    let mut held: HashMap<String, i64> = HashMap::new();
    // A key whose holder vanished between the two looks (retention forgot it just then) is
    // taken on the next round.
    let mut open = distinct;
    while !open.is_empty() {
        for row in Statement::DedupClaim
            .run(
                client,
                &[topic.into(), open.clone().into(), now.into(), window.into()],
            )
            .iter()
        {
            taken.insert(row.value("dedup_key"), row.value("message_id"));
        }
        let others: Vec<String> = open
            .into_iter()
            .filter(|k| !taken.contains_key(k))
            .collect();
        if others.is_empty() {
            break;
        }
        // A statement of its own: it sees what the publishers it waited for committed.
        for row in Statement::DedupExisting
            .run(client, &[topic.into(), others.clone().into()])
            .iter()
        {
            held.insert(row.value("dedup_key"), row.value("message_id"));
        }
        open = others
            .into_iter()
            .filter(|k| !held.contains_key(k))
            .collect();
    }
    let mut new_ids = Vec::with_capacity(keys.len());
    let mut duplicate_of = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        match key {
            None => {
                new_ids.push(None);
                duplicate_of.push(None);
            }
            Some(key) => match taken.get(key) {
                Some(id) if first[key.as_str()] == i => {
                    new_ids.push(Some(*id));
                    duplicate_of.push(None);
                }
                Some(id) => {
                    new_ids.push(None);
                    duplicate_of.push(Some(*id));
                }
                None => {
                    new_ids.push(None);
                    duplicate_of.push(held.get(key).copied());
                }
            },
        }
    }
    let duplicates = duplicate_of.iter().filter(|d| d.is_some()).count();
    if duplicates > 0 {
        Statement::DedupCounted.run(
            client,
            &[
                topic.into(),
                i64::try_from(duplicates).unwrap_or(i64::MAX).into(),
                now.into(),
            ],
        );
    }
    Dedup {
        new_ids,
        duplicate_of,
    }
}

/// The dedup window of `topic`: its own, else `pg_mq.dedup_window`.
pub fn dedup_window(topic: &str) -> Interval {
    let us = topics::with(topic, |t| t.and_then(|t| t.settings.dedup_window_us))
        .unwrap_or_else(|| topics::server_defaults().dedup_window_us);
    Interval::from_micros(us)
}
