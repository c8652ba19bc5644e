//! Latency histograms with fixed buckets: publish (or due time) → first delivery, and delivery
//! → completion, per topic and consumer group. The statements that claim and complete count
//! their rows into buckets (`bucket_counts`), the folds add histograms (`add`), mq_metrics
//! reads percentiles (`quantile`) and the Prometheus text shows `_bucket`, `_sum`, `_count`.

/// Upper bounds of the buckets, in seconds; one more bucket counts everything above the last.
pub const BOUNDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Buckets of a histogram: one per bound and the last for +Inf.
pub const BUCKETS: usize = BOUNDS.len() + 1;

/// A histogram: counts per bucket (not cumulative) and the sum of the values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// BUCKETS counts, or empty when nothing was counted.
    pub counts: Vec<i64>,
    pub sum: f64,
}

impl Histogram {
    pub fn count(&self) -> i64 {
        self.counts.iter().sum()
    }

    /// The counts up to each bound and +Inf (Prometheus `le` buckets).
    pub fn cumulative(&self) -> Vec<i64> {
        let mut total = 0;
        (0..BUCKETS)
            .map(|i| {
                total += self.counts.get(i).copied().unwrap_or(0);
                total
            })
            .collect()
    }
}

/// The two latencies of a topic (and group).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Latency {
    /// From when a message became due (its publish, unless published for later) to its first
    /// delivery.
    pub delivery: Histogram,
    /// From a delivery to its completion.
    pub processing: Histogram,
}

/// The bucket of a value: the first bound at or above it (negative values: the first).
pub fn bucket(seconds: f64) -> usize {
    BOUNDS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(BOUNDS.len())
}

/// The counts per bucket of `values`, up to the last bucket that counted one (None when there
/// are none, so that rows without a latency carry nothing). Every statement that claims or
/// completes writes one of these into its counter row: short latencies land in the first
/// buckets, and the buckets after the last one used are left off (a histogram is read as
/// zero beyond its length), which keeps such a row's array at a few elements instead of
/// `BUCKETS`.
pub fn bucket_counts(values: impl IntoIterator<Item = f64>) -> Option<Vec<i64>> {
    let mut counts = vec![0_i64; BUCKETS];
    let mut used = 0;
    for v in values {
        if v.is_finite() {
            let b = bucket(v);
            counts[b] += 1;
            used = used.max(b + 1);
        }
    }
    counts.truncate(used);
    (used > 0).then_some(counts)
}

/// The element-wise sum of two histograms' counts (either may be absent).
pub fn add(a: Option<&[i64]>, b: Option<&[i64]>) -> Option<Vec<i64>> {
    match (a, b) {
        (None, None) => None,
        (Some(x), None) | (None, Some(x)) => Some(x.to_vec()),
        (Some(x), Some(y)) => Some(
            (0..x.len().max(y.len()))
                .map(|i| x.get(i).copied().unwrap_or(0) + y.get(i).copied().unwrap_or(0))
                .collect(),
        ),
    }
}

/// What a cumulative histogram gained since an earlier reading of it (`before` empty: all of
/// it); a count that went down (a reset) counts from zero.
pub fn since(now: &Histogram, before: &Histogram) -> Histogram {
    if before.counts.is_empty() {
        return now.clone();
    }
    let counts: Vec<i64> = now
        .counts
        .iter()
        .enumerate()
        .map(|(i, n)| (n - before.counts.get(i).copied().unwrap_or(0)).max(0))
        .collect();
    let empty = counts.iter().all(|n| *n == 0);
    Histogram {
        counts: if empty { Vec::new() } else { counts },
        sum: if empty {
            0.0
        } else {
            (now.sum - before.sum).max(0.0)
        },
    }
}

/// The q-quantile (0..1) of a histogram, interpolated linearly inside its bucket as
/// Prometheus' histogram_quantile does; a quantile in the +Inf bucket is the last bound. None
/// when the histogram is empty.
pub fn quantile(h: &Histogram, q: f64) -> Option<f64> {
    let total = h.count();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0_i64;
    for (i, &n) in h.counts.iter().enumerate() {
        if n > 0 && (below + n) as f64 >= rank {
            if i >= BOUNDS.len() {
                return Some(BOUNDS[BOUNDS.len() - 1]);
            }
            let lower = if i == 0 { 0.0 } else { BOUNDS[i - 1] };
            let upper = BOUNDS[i];
            let within = ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * within);
        }
        below += n;
    }
    Some(BOUNDS[BOUNDS.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_at_or_above_them() {
        assert_eq!(bucket(0.0), 0);
        assert_eq!(bucket(0.001), 0);
        assert_eq!(bucket(0.0011), 1);
        assert_eq!(bucket(1.0), 9);
        assert_eq!(bucket(1e9), BOUNDS.len());
        assert_eq!(bucket_counts([]), None);
        let c = bucket_counts([0.0005, 0.002, 0.002, 400.0, f64::NAN]).unwrap();
        assert_eq!(c.len(), BUCKETS);
        assert_eq!((c[0], c[1], c[BUCKETS - 1]), (1, 2, 1));
        assert_eq!(c.iter().sum::<i64>(), 4);
        // Buckets after the last one used are left off.
        assert_eq!(bucket_counts([0.002, 0.0005, 0.003]), Some(vec![1, 1, 1]));
        assert_eq!(bucket_counts([0.0001]), Some(vec![1]));
    }

    #[test]
    fn histograms_add_up_and_accumulate() {
        let a = vec![1, 0, 2];
        let b = vec![0, 3, 1, 5];
        assert_eq!(add(Some(&a), Some(&b)), Some(vec![1, 3, 3, 5]));
        assert_eq!(add(None, Some(&b)), Some(b.clone()));
        assert_eq!(add(None, None), None);
        let h = Histogram {
            counts: bucket_counts([0.0005, 0.2, 0.2]).unwrap(),
            sum: 0.4005,
        };
        let cum = h.cumulative();
        assert_eq!(cum.len(), BUCKETS);
        assert_eq!((cum[0], cum[6], cum[7], cum[BUCKETS - 1]), (1, 1, 3, 3));
    }

    #[test]
    fn a_window_is_the_difference_of_two_readings() {
        let before = Histogram {
            counts: vec![1, 2, 0],
            sum: 1.0,
        };
        let now = Histogram {
            counts: vec![1, 5, 4],
            sum: 9.0,
        };
        assert_eq!(
            since(&now, &before),
            Histogram {
                counts: vec![0, 3, 4],
                sum: 8.0
            }
        );
        assert_eq!(since(&now, &Histogram::default()), now);
        assert_eq!(since(&before, &before), Histogram::default());
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        assert_eq!(quantile(&Histogram::default(), 0.5), None);
        // 100 values in (0.1, 0.25]: the median is halfway through the bucket.
        let mut counts = vec![0; BUCKETS];
        counts[7] = 100;
        let h = Histogram { counts, sum: 17.5 };
        let p50 = quantile(&h, 0.5).unwrap();
        assert!((p50 - 0.175).abs() < 1e-9, "{p50}");
        assert!((quantile(&h, 0.99).unwrap() - 0.2485).abs() < 1e-9);
        // Everything above the last bound: the last bound.
        let mut counts = vec![0; BUCKETS];
        counts[BUCKETS - 1] = 3;
        assert_eq!(
            quantile(
                &Histogram {
                    counts,
                    sum: 3000.0
                },
                0.5
            ),
            Some(300.0)
        );
    }
}
