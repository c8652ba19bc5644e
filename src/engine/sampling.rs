//! Metrics: the changes counted by every statement folded into the per-topic totals (the
//! background worker does it every `pg_mq.fold_interval`), and samples — a snapshot of every
//! topic — every `pg_mq.metrics_sample_interval` (and `mq_metrics_sample()` on demand).

use pgrx::spi::SpiClient;

use crate::pg::statements::Statement;
use crate::pg::{clock, settings};

/// Folds the counter increments into the totals, records one metrics sample per topic and
/// deletes samples beyond `pg_mq.metrics_max_samples`. Returns the number of topics sampled.
/// The background worker runs this every `pg_mq.metrics_sample_interval`.
pub fn take_sample(client: &mut SpiClient<'_>) -> i64 {
    let now = clock::now();
    fold(client);
    let sampled = Statement::TakeSample.run(client, &[now.into()]).len();
    Statement::PruneSamples.run(client, &[settings::METRICS_MAX_SAMPLES.get().into()]);
    i64::try_from(sampled).unwrap_or(i64::MAX)
}

/// Folds the counted changes into the per-topic totals; returns how many topics changed.
pub fn fold(client: &mut SpiClient<'_>) -> usize {
    Statement::LockTotals.run(client, &[]);
    Statement::FoldCounts
        .run(client, &[clock::now().into()])
        .len()
}
