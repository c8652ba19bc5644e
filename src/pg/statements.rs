//! Every SQL statement pg_mq runs at run time, and the per-backend cache of their prepared
//! plans.
//!
//! Each statement is a SQL document of its own under sql/statements/, declared once below
//! with its parameters (name and type, in `$n` order) and its result columns (read by name,
//! see `spi::Row`). Adding a statement is one file and one declaration. The `statements`
//! pg_test prepares every statement, in both trace modes, against the installed schema.
//!
//! Each statement is prepared once per backend as a generic plan (see `spi`) and reused; the
//! plan cache replans it by itself when the tables change. Each lifecycle statement is one
//! round trip: the state change, its dead letter, its counters and its trace rows are written
//! by data-modifying CTEs in the same statement. With `pg_mq.trace = off` a second plan of each
//! statement is used, prepared without the lines between `--trace{` and `--}trace`, so the two
//! cannot drift apart. Tables are qualified
//! with their schema and the SQL functions calling these statements pin search_path to
//! pg_catalog, so a caller's search_path cannot redirect a name.

use std::cell::RefCell;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;

use crate::pg::settings;
use crate::pg::spi::{Owned, Plan, Rows};

/// Parameter types, by the names the declarations use.
#[allow(dead_code)]
mod ty {
    use pgrx::pg_sys::{self, Oid};
    pub const BOOL: Oid = pg_sys::BOOLOID;
    pub const BOOL_ARRAY: Oid = pg_sys::BOOLARRAYOID;
    pub const INT4: Oid = pg_sys::INT4OID;
    pub const INT8: Oid = pg_sys::INT8OID;
    pub const INT8_ARRAY: Oid = pg_sys::INT8ARRAYOID;
    pub const INTERVAL: Oid = pg_sys::INTERVALOID;
    pub const JSONB: Oid = pg_sys::JSONBOID;
    pub const JSONB_ARRAY: Oid = pg_sys::JSONBARRAYOID;
    pub const OID: Oid = pg_sys::OIDOID;
    pub const TEXT: Oid = pg_sys::TEXTOID;
    pub const TEXT_ARRAY: Oid = pg_sys::TEXTARRAYOID;
    pub const TIMESTAMPTZ: Oid = pg_sys::TIMESTAMPTZOID;
    pub const TIMESTAMPTZ_ARRAY: Oid = pg_sys::TIMESTAMPTZARRAYOID;
    pub const UUID: Oid = pg_sys::UUIDOID;
    pub const UUID_ARRAY: Oid = pg_sys::UUIDARRAYOID;
}

/// Declares [`Statement`] from one list: each variant's SQL document, parameters and result
/// columns.
macro_rules! statements {
    ($(
        $(#[$doc:meta])*
        $name:ident = $file:literal
            ($($arg:ident: $ty:ident),* $(,)?) -> ($($column:ident),* $(,)?);
    )+) => {
        /// A runtime statement; see the module documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Statement {
            $($(#[$doc])* $name),+
        }

        const STATEMENT_COUNT: usize = [$(Statement::$name),+].len();

        impl Statement {
            /// Every statement.
            #[allow(dead_code)]
            pub const ALL: [Statement; STATEMENT_COUNT] = [$(Statement::$name),+];

            /// The path of the statement's document under sql/statements/.
            pub fn file(self) -> &'static str {
                match self {
                    $(Statement::$name => $file),+
                }
            }

            /// The statement's text, with its trace lines.
            fn text(self) -> &'static str {
                match self {
                    $(Statement::$name => include_str!(concat!("../../sql/statements/", $file))),+
                }
            }

            /// The parameters' types, in `$n` order.
            pub fn arg_types(self) -> &'static [pg_sys::Oid] {
                match self {
                    $(Statement::$name => &[$(ty::$ty),*]),+
                }
            }

            /// The parameters' names, in `$n` order.
            #[allow(dead_code)]
            pub fn arg_names(self) -> &'static [&'static str] {
                match self {
                    $(Statement::$name => &[$(stringify!($arg)),*]),+
                }
            }

            /// The result columns, in order.
            pub fn columns(self) -> &'static [&'static str] {
                match self {
                    $(Statement::$name => &[$(stringify!($column)),*]),+
                }
            }
        }
    };
}

statements! {
    // The message lifecycle (sql/statements/lifecycle/).
    Publish = "lifecycle/publish.sql"
        (topic: TEXT, payload: JSONB, headers: JSONB, priority: INT4, max_retries: INT4,
         execute_at: TIMESTAMPTZ, delay: INTERVAL, trace_id: UUID, now: TIMESTAMPTZ,
         expires_at: TIMESTAMPTZ)
        -> (id);
    PublishBatch = "lifecycle/publish_batch.sql"
        (topic: TEXT, payloads: JSONB_ARRAY, headers: JSONB, priority: INT4, max_retries: INT4,
         execute_at: TIMESTAMPTZ, delay: INTERVAL, now: TIMESTAMPTZ, trace_ids: UUID_ARRAY,
         expires_at: TIMESTAMPTZ)
        -> (id);
    Claim = "lifecycle/claim.sql"
        (topic: TEXT, batch_size: INT4, consumer_id: TEXT, lock_timeout: INTERVAL,
         now: TIMESTAMPTZ)
        -> (id, topic, payload, headers, priority, retry_count, max_retries, trace_id,
            created_at, lease, due_at, ordering_key);
    ClaimGroup = "lifecycle/claim_group.sql"
        (topic: TEXT, batch_size: INT4, consumer_id: TEXT, lock_timeout: INTERVAL,
         now: TIMESTAMPTZ, consumer_group: TEXT)
        -> (id, topic, payload, headers, priority, retry_count, max_retries, trace_id,
            created_at, lease, due_at, ordering_key);
    Complete = "lifecycle/complete.sql" (id: INT8, lease: UUID, topic: TEXT, now: TIMESTAMPTZ)
        -> (id, topic, consumer_group, ordering_key);
    CompleteBatch = "lifecycle/complete_batch.sql"
        (ids: INT8_ARRAY, leases: UUID_ARRAY, topic: TEXT, now: TIMESTAMPTZ)
        -> (id, topic, consumer_group, ordering_key);
    Extend = "lifecycle/extend.sql"
        (id: INT8, lease: UUID, extend_by: INTERVAL, now: TIMESTAMPTZ, topic: TEXT)
        -> (locked_until);
    LockForFailure = "lifecycle/lock_for_failure.sql"
        (ids: INT8_ARRAY, leases: UUID_ARRAY, topic: TEXT)
        -> (id, topic, retry_count, max_retries, expires_at);
    LockExpired = "lifecycle/lock_expired.sql" (topic: TEXT, now: TIMESTAMPTZ, limit: INT4)
        -> (id, topic, retry_count, max_retries, expires_at);
    Settle = "lifecycle/settle.sql"
        (ids: INT8_ARRAY, next_retry_at: TIMESTAMPTZ_ARRAY, error: TEXT, now: TIMESTAMPTZ,
         retry_event: TEXT, expire: BOOL_ARRAY)
        -> (id, status, topic, consumer_group, ordering_key);
    Replay = "lifecycle/replay.sql" (dead_letter_ids: INT8_ARRAY, now: TIMESTAMPTZ)
        -> (dead_letter_id, message_id, topic, consumer_group);
    Promote = "lifecycle/promote.sql" (topic: TEXT, now: TIMESTAMPTZ, limit: INT4)
        -> (topic, consumer_group, promoted);
    Expire = "lifecycle/expire.sql" (topic: TEXT, now: TIMESTAMPTZ, limit: INT4)
        -> (id, topic, consumer_group, ordering_key, was);
    PublishKeyed = "lifecycle/publish_keyed.sql"
        (topic: TEXT, payloads: JSONB_ARRAY, headers: JSONB, priority: INT4, max_retries: INT4,
         execute_at: TIMESTAMPTZ, delay: INTERVAL, now: TIMESTAMPTZ, trace_ids: UUID_ARRAY,
         expires_at: TIMESTAMPTZ, groups: TEXT_ARRAY, ids: INT8_ARRAY,
         ordering_keys: TEXT_ARRAY)
        -> (id);
    DeadLetterState = "lifecycle/dead_letter_state.sql" (id: INT8)
        -> (replayed, replayed_message_id);
    Trace = "lifecycle/trace.sql" (trace_id: UUID)
        -> (event, message_id, topic, detail, created_at);

    // Metrics, retention and purge (sql/statements/operations/).
    LockTotals = "operations/lock_totals.sql" () -> ();
    FoldCounts = "operations/fold_counts.sql" (now: TIMESTAMPTZ) -> ();
    HealthBaseline = "health/baseline.sql" (start: TIMESTAMPTZ) -> (sampled_at);
    HealthCluster = "health/cluster.sql" (now: TIMESTAMPTZ)
        -> (snapshot_age, snapshot_pid, snapshot_database, snapshot_role, snapshot_state,
            snapshot_application, dead_table, dead_tuples, live_tuples, last_autovacuum,
            snapshot_taken_ago);
    CurrentMetrics = "operations/current_metrics.sql" (now: TIMESTAMPTZ, topic: TEXT)
        -> (topic, consumer_group, sampled_at, pending, delayed, processing, consumed_total,
            failed_total, dead_letter_total, oldest_pending_age, expired_total, dead_letters,
            delivered_total, last_delivery_at, deduplicated_total, delivery_latency,
            delivery_latency_sum, processing_latency, processing_latency_sum);
    WindowBaseline = "operations/window_baseline.sql" (start: TIMESTAMPTZ, now: TIMESTAMPTZ)
        -> (sampled_at);
    TakeSample = "operations/take_sample.sql" (now: TIMESTAMPTZ) -> ();
    PruneSamples = "operations/prune_samples.sql" (keep: INT4) -> ();
    SnapshotsSince = "operations/snapshots_since.sql" (from: TIMESTAMPTZ) -> (sampled_at);
    SamplesBetween = "operations/samples_between.sql" (from: TIMESTAMPTZ, until: TIMESTAMPTZ)
        -> (topic, consumer_group, sampled_at, pending, delayed, processing, consumed_total,
            failed_total, dead_letter_total, oldest_pending_age, expired_total, dead_letters,
            delivered_total, last_delivery_at, deduplicated_total, delivery_latency,
            delivery_latency_sum, processing_latency, processing_latency_sum);
    CleanupPayloads = "operations/cleanup_payloads.sql" (batch: INT4) -> (count);
    CleanupMessages = "operations/cleanup_messages.sql"
        (topic: TEXT, status: TEXT, cutoff: TIMESTAMPTZ, batch: INT4) -> (count);
    RetentionTopics = "operations/retention_topics.sql"
        (server_cutoff: TIMESTAMPTZ, now: TIMESTAMPTZ) -> (topic, cutoff);
    CleanupDeadLetters = "operations/cleanup_dead_letters.sql" (cutoff: TIMESTAMPTZ, batch: INT4)
        -> (count);
    CleanupTraces = "operations/cleanup_traces.sql" (cutoff: TIMESTAMPTZ, batch: INT4)
        -> (count);
    Purge = "operations/purge.sql" (topic: TEXT, now: TIMESTAMPTZ) -> (count);
    ExtensionVersion = "operations/extension_version.sql" () -> (extversion);

    // The topic catalog (sql/statements/topics/).
    LoadTopics = "topics/load_topics.sql" ()
        -> (topic, max_retries, retry_base_delay_us, retry_max_delay_us, lock_timeout_us,
            message_ttl_us, max_depth, retention_us, dedup_window_us, ordering_dead_letter,
            description, paused, created_at);
    LockTopicRow = "topics/lock_topic_row.sql" (topic: TEXT)
        -> (topic, max_retries, retry_base_delay_us, retry_max_delay_us, lock_timeout_us,
            message_ttl_us, max_depth, retention_us, dedup_window_us, ordering_dead_letter,
            description, paused, created_at);
    CreateTopic = "topics/create_topic.sql"
        (topic: TEXT, max_retries: INT4, retry_base_delay_us: INT8, retry_max_delay_us: INT8,
         lock_timeout_us: INT8, message_ttl_us: INT8, max_depth: INT8, retention_us: INT8,
         dedup_window_us: INT8, ordering_dead_letter: TEXT, description: TEXT, now: TIMESTAMPTZ)
        -> (topic);
    WriteTopic = "topics/write_topic.sql"
        (topic: TEXT, max_retries: INT4, retry_base_delay_us: INT8, retry_max_delay_us: INT8,
         lock_timeout_us: INT8, message_ttl_us: INT8, max_depth: INT8, retention_us: INT8,
         dedup_window_us: INT8, ordering_dead_letter: TEXT, description: TEXT, now: TIMESTAMPTZ)
        -> (topic);
    RegisterTopic = "topics/register_topic.sql" (topic: TEXT, now: TIMESTAMPTZ) -> ();
    SetPaused = "topics/set_paused.sql" (topic: TEXT, paused: BOOL, now: TIMESTAMPTZ)
        -> (topic);
    LockDepth = "topics/lock_depth.sql" (topic: TEXT) -> (locked);
    TopicPaused = "topics/topic_paused.sql" (topic: TEXT) -> (paused);
    TopicDepth = "topics/topic_depth.sql" (topic: TEXT) -> (depth);
    DropTopic = "topics/drop_topic.sql" (topic: TEXT, now: TIMESTAMPTZ) -> (count);
    ListTopics = "topics/list_topics.sql" (now: TIMESTAMPTZ)
        -> (topic, max_retries, retry_base_delay_us, retry_max_delay_us, lock_timeout_us,
            message_ttl_us, max_depth, retention_us, dedup_window_us, ordering_dead_letter,
            description, paused, created_at, pending, delayed, processing, dead_letters);

    // Ordering and deduplication keys (sql/statements/keys/).
    LockKeys = "keys/lock_keys.sql"
        (topics: TEXT_ARRAY, groups: TEXT_ARRAY, keys: TEXT_ARRAY) -> (ordering_key);
    ReleaseKeys = "keys/release_keys.sql"
        (topics: TEXT_ARRAY, groups: TEXT_ARRAY, keys: TEXT_ARRAY, finished: INT8_ARRAY,
         block_ids: INT8_ARRAY, reasons: TEXT_ARRAY, now: TIMESTAMPTZ, heads: BOOL_ARRAY)
        -> (topic, consumer_group);
    ReconcileKeys = "keys/reconcile_keys.sql" (topic: TEXT, consumer_group: TEXT, now: TIMESTAMPTZ)
        -> ();
    BlockedKeys = "keys/blocked_keys.sql" (topic: TEXT, consumer_group: TEXT)
        -> (ordering_key, blocked_message_id, blocked_reason, blocked_since);
    DeadLetterKeys = "keys/dead_letter_keys.sql" (ids: INT8_ARRAY)
        -> (topic, consumer_group, ordering_key);
    DedupClaim = "keys/dedup_claim.sql"
        (topic: TEXT, keys: TEXT_ARRAY, now: TIMESTAMPTZ, window: INTERVAL)
        -> (dedup_key, message_id);
    DedupExisting = "keys/dedup_existing.sql" (topic: TEXT, keys: TEXT_ARRAY)
        -> (dedup_key, message_id);
    DedupCounted = "keys/dedup_counted.sql" (topic: TEXT, count: INT8, now: TIMESTAMPTZ) -> ();
    CleanupDedupKeys = "operations/cleanup_dedup_keys.sql" (cutoff: TIMESTAMPTZ, batch: INT4)
        -> (count);
    CleanupConsumers = "operations/cleanup_consumers.sql" (cutoff: TIMESTAMPTZ, batch: INT4)
        -> (count);
    Consumers = "operations/consumers.sql" (topic: TEXT, now: TIMESTAMPTZ)
        -> (consumer_id, topic, consumer_group, first_seen, last_claim_at, last_ack_at, claimed,
            completed, failed, lease_expired, last_lease_expired_at, last_error, last_error_at,
            in_flight, expired_locks);

    // Publish–subscribe (sql/statements/groups/).
    PublishToGroups = "groups/publish.sql"
        (topic: TEXT, payload: JSONB, headers: JSONB, priority: INT4, max_retries: INT4,
         execute_at: TIMESTAMPTZ, delay: INTERVAL, trace_id: UUID, now: TIMESTAMPTZ,
         expires_at: TIMESTAMPTZ, groups: TEXT_ARRAY)
        -> (id);
    PublishBatchToGroups = "groups/publish_batch.sql"
        (topic: TEXT, payloads: JSONB_ARRAY, headers: JSONB, priority: INT4, max_retries: INT4,
         execute_at: TIMESTAMPTZ, delay: INTERVAL, now: TIMESTAMPTZ, trace_ids: UUID_ARRAY,
         expires_at: TIMESTAMPTZ, groups: TEXT_ARRAY)
        -> (id);
    LoadSubscriptions = "groups/load_subscriptions.sql" ()
        -> (id, consumer_group, topic_pattern, start_at, created_at);
    LoadGroupPauses = "groups/load_group_pauses.sql" () -> (consumer_group, topic);
    LockRouting = "groups/lock_routing.sql" () -> ();
    Subscribe = "groups/subscribe.sql"
        (consumer_group: TEXT, topic_pattern: TEXT, start_at: TIMESTAMPTZ, now: TIMESTAMPTZ)
        -> (id, created);
    Backfill = "groups/backfill.sql"
        (consumer_group: TEXT, topics: TEXT_ARRAY, start_at: TIMESTAMPTZ, now: TIMESTAMPTZ)
        -> (count);
    Unsubscribe = "groups/unsubscribe.sql" (consumer_group: TEXT, topic_pattern: TEXT)
        -> (topic_pattern);
    PurgeGroup = "groups/purge_group.sql"
        (consumer_group: TEXT, topics: TEXT_ARRAY, now: TIMESTAMPTZ) -> (count);
    GroupTopics = "groups/group_topics.sql" (consumer_group: TEXT, now: TIMESTAMPTZ) -> (topic);
    KnownTopics = "groups/known_topics.sql" () -> (topic);
    ListSubscriptions = "groups/list_subscriptions.sql" (consumer_group: TEXT)
        -> (id, consumer_group, topic_pattern, start_at, created_at);
    SetGroupPaused = "groups/set_group_paused.sql"
        (consumer_group: TEXT, topic: TEXT, now: TIMESTAMPTZ) -> (consumer_group);
    ClearGroupPaused = "groups/clear_group_paused.sql" (consumer_group: TEXT, topic: TEXT)
        -> (consumer_group);
    GroupPaused = "groups/group_paused.sql" (consumer_group: TEXT, topic: TEXT) -> (paused);

    // Privileges (sql/statements/access/).
    Grants = "access/grants.sql" () -> (role, capability, topic);
    MessageTopics = "access/message_topics.sql" (ids: INT8_ARRAY) -> (topic);
    RecordGrant = "access/record_grant.sql" (role: OID, capability: TEXT, topic: TEXT)
        -> (recorded);
    RemoveGrants = "access/remove_grants.sql" (role: OID, capability: TEXT, topic: TEXT)
        -> (removed);
    HeldCapabilities = "access/held_capabilities.sql" (role: OID) -> (capability);
    ExtensionFunctionStatements = "access/extension_function_statements.sql"
        (template: TEXT, functions: TEXT_ARRAY, role: TEXT) -> (statement);
    ExtensionSchemaUsage = "access/extension_schema_usage.sql" (role: TEXT) -> (statement);
    QuoteIdent = "access/quote_ident.sql" (identifier: TEXT) -> (quote_ident);
}

impl Statement {
    /// The statement's text for a trace mode: with tracing off, without the lines from
    /// `--trace{` to `--}trace`.
    pub fn sql(self, trace: bool) -> String {
        if trace {
            self.text().to_owned()
        } else {
            mq_core::sql_text::without_trace(self.text())
        }
    }

    /// Prepares the statement in a trace mode (what `run` does on first use).
    pub fn prepare(self, client: &SpiClient<'_>, trace: bool) -> Plan {
        Plan::prepare(
            client,
            self.file(),
            &self.sql(trace),
            self.arg_types(),
            self.columns(),
        )
    }

    /// Runs the statement with `args` (in the order of its declaration), preparing it on first
    /// use in this backend, in the variant `pg_mq.trace` asks for.
    pub fn run<'conn>(
        self,
        client: &mut SpiClient<'conn>,
        args: &[DatumWithOid<'_>],
    ) -> Rows<'conn> {
        debug_assert_eq!(
            args.len(),
            self.arg_types().len(),
            "{self:?} takes {:?}",
            self.arg_names()
        );
        let trace = settings::TRACE.get();
        PLANS.with(|plans| {
            let mut plans = plans.borrow_mut();
            let plan = plans[self as usize * 2 + usize::from(trace)]
                .get_or_insert_with(|| self.prepare(client, trace));
            plan.execute(client, args, self.columns())
        })
    }

    /// Runs a statement that returns one row whose first column is not NULL; returns it.
    pub fn run_scalar<T: Owned>(self, client: &mut SpiClient<'_>, args: &[DatumWithOid<'_>]) -> T {
        self.run(client, args).scalar()
    }
}

thread_local! {
    /// Two plans per statement: without and with trace rows.
    static PLANS: RefCell<[Option<Plan>; 2 * STATEMENT_COUNT]> =
        const { RefCell::new([const { None }; 2 * STATEMENT_COUNT]) };
}
