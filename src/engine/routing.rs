//! Publish–subscribe routing as calls read it: per-session copies of `mq.subscriptions` and
//! `mq.group_pauses`, invalidated when either changes, so a publish finds its topic's groups
//! (and a poll its group's pause) without a query. `mq_core::routing` matches the patterns.
//!
//! A publisher holds `mq.subscriptions` in ROW EXCLUSIVE mode until it commits ([`routes`]);
//! a subscription change takes SHARE ROW EXCLUSIVE, so it waits for the publishers in flight,
//! and a publisher that comes after it reads the changed subscriptions (taking the lock
//! processes the invalidation). A message is routed by exactly the subscriptions that
//! committed before it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use pgrx::prelude::*;

use mq_core::routing::{self, Pattern};

use crate::engine::topics;
use crate::pg::catalog::{self, cached_table};
use crate::pg::statements::Statement;

/// The subscriptions, and the groups each topic routes to (filled as topics are published to).
#[derive(Default)]
pub struct Subscriptions {
    pub rows: Vec<(String, Pattern)>,
    routes: RefCell<HashMap<String, Rc<[String]>>>,
}

impl Subscriptions {
    /// The groups whose patterns match `topic`, each once.
    pub fn groups_for(&self, topic: &str) -> Rc<[String]> {
        if let Some(groups) = self.routes.borrow().get(topic) {
            return groups.clone();
        }
        let groups: Rc<[String]> =
            routing::groups_for(topic, self.rows.iter().map(|(g, p)| (g.as_str(), p))).into();
        if self.routes.borrow().len() < 10_000 {
            self.routes
                .borrow_mut()
                .insert(topic.to_owned(), groups.clone());
        }
        groups
    }

    /// Whether `group` has a subscription.
    pub fn has_group(&self, group: &str) -> bool {
        self.rows.iter().any(|(g, _)| g == group)
    }

    /// The patterns of `group`.
    pub fn patterns_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Pattern> + 'a {
        self.rows
            .iter()
            .filter(move |(g, _)| g == group)
            .map(|(_, p)| p)
    }
}

fn load_subscriptions() -> Subscriptions {
    let rows = Spi::connect_mut(|client| {
        Statement::LoadSubscriptions
            .run(client, &[])
            .iter()
            .filter_map(|row| {
                let group: String = row.value("consumer_group");
                let pattern = Pattern::parse(Some(&row.value::<String>("topic_pattern"))).ok()?;
                Some((group, pattern))
            })
            .collect()
    });
    Subscriptions {
        rows,
        routes: RefCell::new(HashMap::new()),
    }
}

cached_table!(mod subscriptions: Subscriptions = c"subscriptions", super::load_subscriptions);

/// The paused (group, topic) pairs; topic "" pauses all of a group's topics.
pub type Pauses = HashSet<(String, String)>;

fn load_pauses() -> Pauses {
    Spi::connect_mut(|client| {
        Statement::LoadGroupPauses
            .run(client, &[])
            .iter()
            .map(|row| (row.value("consumer_group"), row.value("topic")))
            .collect()
    })
}

cached_table!(mod pauses: Pauses = c"group_pauses", super::load_pauses);

/// The subscriptions (this session's copy).
pub fn current() -> Rc<Subscriptions> {
    subscriptions::rows()
}

/// Takes the routing lock of a publisher (held until the transaction ends) and returns the
/// groups `topic` routes to; empty: a point-to-point message.
pub fn routes(topic: &str) -> Rc<[String]> {
    catalog::lock_row_exclusive(c"subscriptions");
    subscriptions::rows().groups_for(topic)
}

/// The topics of each group, and the addresses of the copies of the catalog and of the
/// subscriptions they were computed from.
type GroupTopics = (usize, usize, HashMap<String, Rc<[String]>>);

thread_local! {
    /// The memo of [`topics_of`].
    static GROUP_TOPICS: RefCell<GroupTopics> = RefCell::new((0, 0, HashMap::new()));
}

/// The topics of the catalog that `group`'s patterns match, in name order (a topic not yet
/// registered — published to for the first time less than a fold interval ago — is not among
/// them yet).
pub fn topics_of(group: &str) -> Rc<[String]> {
    let catalog = topics::catalog();
    let subscriptions = current();
    let key = (
        Rc::as_ptr(&catalog) as usize,
        Rc::as_ptr(&subscriptions) as usize,
    );
    GROUP_TOPICS.with(|memo| {
        let mut memo = memo.borrow_mut();
        if (memo.0, memo.1) != key {
            *memo = (key.0, key.1, HashMap::new());
        }
        if let Some(found) = memo.2.get(group) {
            return found.clone();
        }
        let patterns: Vec<&Pattern> = subscriptions.patterns_of(group).collect();
        let mut found: Vec<String> = catalog
            .keys()
            .filter(|t| patterns.iter().any(|p| p.matches(t)))
            .cloned()
            .collect();
        found.sort();
        let found: Rc<[String]> = found.into();
        memo.2.insert(group.to_owned(), found.clone());
        found
    })
}

/// Whether `group` is paused for `topic` (or for all its topics), in this session's copy.
pub fn group_paused(group: &str, topic: &str) -> bool {
    let pauses = pauses::rows();
    !pauses.is_empty()
        && (pauses.contains(&(group.to_owned(), topic.to_owned()))
            || pauses.contains(&(group.to_owned(), String::new())))
}

/// Whether `group` is paused for `topic`, as committed now (a poll whose copy says paused asks
/// again: see `topics::still_paused`).
pub fn group_still_paused(group: &str, topic: &str) -> bool {
    Spi::connect_mut(|client| {
        Statement::GroupPaused.run_scalar::<bool>(client, &[group.into(), topic.into()])
    })
}
