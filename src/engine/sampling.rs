//! Metrics samples: the counters folded into their totals and a snapshot of every topic, as
//! the background worker records them every `pg_mq.metrics_sample_interval` (and
//! `mq_metrics_sample()` on demand).

use pgrx::spi::SpiClient;

use crate::pg::statements::Statement;
use crate::pg::{clock, settings};

/// Folds the counter increments into the totals, records one metrics sample per topic and
/// deletes samples beyond `pg_mq.metrics_max_samples`. Returns the number of topics sampled.
/// The background worker runs this every `pg_mq.metrics_sample_interval`.
pub fn take_sample(client: &mut SpiClient<'_>) -> i64 {
    let now = clock::now();
    Statement::FoldCounts.run(client, &[now.into()]);
    let sampled = Statement::TakeSample.run(client, &[now.into()]).len();
    Statement::PruneSamples.run(client, &[settings::METRICS_MAX_SAMPLES.get().into()]);
    i64::try_from(sampled).unwrap_or(i64::MAX)
}
