//! When the background worker runs each of its jobs. Pure Rust: the worker passes the clock
//! and each job's current interval (indexed like its list of jobs, src/worker/jobs/), so a
//! reloaded setting takes effect at the next wake-up.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
struct JobState {
    last_run: Option<Instant>,
    /// The last run stopped at its batch limit: run again without waiting.
    more: bool,
}

/// Tracks when each job (by its index in the worker's list) last ran.
#[derive(Debug, Clone)]
pub struct Schedule {
    jobs: Vec<JobState>,
}

impl Schedule {
    /// A schedule of `jobs` jobs, all due at once.
    pub fn new(jobs: usize) -> Schedule {
        Schedule {
            jobs: vec![JobState::default(); jobs],
        }
    }

    /// The moment job `job` is next due; None: now.
    fn due_at(&self, job: usize, interval: Duration) -> Option<Instant> {
        let state = self.jobs[job];
        match state.last_run {
            Some(last) if !state.more => Some(last + interval),
            _ => None,
        }
    }

    /// The jobs due at `now`, in list order.
    pub fn due(&self, now: Instant, intervals: &[Duration]) -> Vec<usize> {
        (0..self.jobs.len())
            .filter(|job| {
                self.due_at(*job, intervals[*job])
                    .is_none_or(|at| at <= now)
            })
            .collect()
    }

    /// Records a run of `job` that finished at `now`; `more` when it left work for next time.
    pub fn ran(&mut self, job: usize, now: Instant, more: bool) {
        self.jobs[job] = JobState {
            last_run: Some(now),
            more,
        };
    }

    /// How long to sleep from `now` until the next job is due.
    pub fn wait(&self, now: Instant, intervals: &[Duration]) -> Duration {
        (0..self.jobs.len())
            .map(|job| match self.due_at(job, intervals[job]) {
                None => Duration::ZERO,
                Some(at) => at.saturating_duration_since(now),
            })
            .min()
            .unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const RECOVERY: usize = 0;
    const RETENTION: usize = 1;
    const METRICS: usize = 2;
    const ALL: [usize; 3] = [RECOVERY, RETENTION, METRICS];

    fn intervals() -> [Duration; 3] {
        [5 * S, 60 * S, 10 * S]
    }

    #[test]
    fn everything_is_due_at_first() {
        let now = Instant::now();
        let s = Schedule::new(3);
        assert_eq!(s.due(now, &intervals()), ALL.to_vec());
        assert_eq!(s.wait(now, &intervals()), Duration::ZERO);
    }

    #[test]
    fn jobs_come_due_after_their_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::new(3);
        for job in ALL {
            s.ran(job, t0, false);
        }
        assert!(s.due(t0 + 4 * S, &intervals()).is_empty());
        assert_eq!(s.wait(t0 + 4 * S, &intervals()), S);
        assert_eq!(s.due(t0 + 5 * S, &intervals()), vec![RECOVERY]);
        assert_eq!(s.due(t0 + 10 * S, &intervals()), vec![RECOVERY, METRICS]);
        assert_eq!(s.due(t0 + 60 * S, &intervals()), ALL.to_vec());
    }

    #[test]
    fn unfinished_work_runs_again_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(3);
        for job in ALL {
            s.ran(job, t0, false);
        }
        s.ran(RETENTION, t0, true);
        assert_eq!(s.due(t0, &intervals()), vec![RETENTION]);
        assert_eq!(s.wait(t0, &intervals()), Duration::ZERO);
    }

    #[test]
    fn a_shorter_interval_takes_effect_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(3);
        for job in ALL {
            s.ran(job, t0, false);
        }
        let mut faster = intervals();
        faster[RECOVERY] = S / 5;
        assert_eq!(s.due(t0 + S, &faster), vec![RECOVERY]);
        assert_eq!(s.wait(t0, &faster), S / 5);
    }
}
