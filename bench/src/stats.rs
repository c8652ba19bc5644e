//! Percentiles of latency samples.

/// p50 / p95 / p99 of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub samples: usize,
}

/// The nearest-rank percentile `p` (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Summarises latencies given in milliseconds.
pub fn latency(mut millis: Vec<f64>) -> Option<Latency> {
    millis.retain(|v| v.is_finite());
    millis.sort_by(f64::total_cmp);
    Some(Latency {
        p50: percentile(&millis, 50.0)?,
        p95: percentile(&millis, 95.0)?,
        p99: percentile(&millis, 99.0)?,
        samples: millis.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn latency_sorts_and_skips_non_finite() {
        let l = latency(vec![3.0, 1.0, f64::NAN, 2.0]).unwrap();
        assert_eq!((l.p50, l.p99, l.samples), (2.0, 3.0, 3));
        assert!(latency(vec![]).is_none());
    }
}
