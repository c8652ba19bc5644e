//! When the background worker runs each of its jobs. Pure Rust: the worker passes the clock
//! and the current intervals, so a reloaded setting takes effect at the next wake-up.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Recovery,
    Retention,
    Metrics,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::Recovery, Job::Retention, Job::Metrics];

    fn index(self) -> usize {
        self as usize
    }
}

/// The interval of each job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    pub recovery: Duration,
    pub retention: Duration,
    pub metrics: Duration,
}

impl Intervals {
    fn of(&self, job: Job) -> Duration {
        match job {
            Job::Recovery => self.recovery,
            Job::Retention => self.retention,
            Job::Metrics => self.metrics,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct JobState {
    last_run: Option<Instant>,
    /// The last run stopped at its batch limit: run again without waiting.
    more: bool,
}

/// Tracks when each job last ran.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    jobs: [JobState; 3],
}

impl Schedule {
    /// The moment `job` is next due.
    fn due_at(&self, job: Job, intervals: &Intervals) -> Option<Instant> {
        let state = self.jobs[job.index()];
        match state.last_run {
            Some(last) if !state.more => Some(last + intervals.of(job)),
            _ => None, // due now
        }
    }

    /// The jobs due at `now`, in a fixed order.
    pub fn due(&self, now: Instant, intervals: &Intervals) -> Vec<Job> {
        Job::ALL
            .into_iter()
            .filter(|job| self.due_at(*job, intervals).is_none_or(|at| at <= now))
            .collect()
    }

    /// Records a run of `job` that finished at `now`; `more` when it left work for next time.
    pub fn ran(&mut self, job: Job, now: Instant, more: bool) {
        self.jobs[job.index()] = JobState {
            last_run: Some(now),
            more,
        };
    }

    /// How long to sleep from `now` until the next job is due.
    pub fn wait(&self, now: Instant, intervals: &Intervals) -> Duration {
        Job::ALL
            .into_iter()
            .map(|job| match self.due_at(job, intervals) {
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

    fn intervals() -> Intervals {
        Intervals {
            recovery: 5 * S,
            retention: 60 * S,
            metrics: 10 * S,
        }
    }

    #[test]
    fn everything_is_due_at_first() {
        let now = Instant::now();
        let s = Schedule::default();
        assert_eq!(s.due(now, &intervals()), Job::ALL.to_vec());
        assert_eq!(s.wait(now, &intervals()), Duration::ZERO);
    }

    #[test]
    fn jobs_come_due_after_their_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        for job in Job::ALL {
            s.ran(job, t0, false);
        }
        assert!(s.due(t0 + 4 * S, &intervals()).is_empty());
        assert_eq!(s.wait(t0 + 4 * S, &intervals()), S);
        assert_eq!(s.due(t0 + 5 * S, &intervals()), vec![Job::Recovery]);
        assert_eq!(
            s.due(t0 + 10 * S, &intervals()),
            vec![Job::Recovery, Job::Metrics]
        );
        assert_eq!(s.due(t0 + 60 * S, &intervals()), Job::ALL.to_vec());
    }

    #[test]
    fn unfinished_work_runs_again_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        for job in Job::ALL {
            s.ran(job, t0, false);
        }
        s.ran(Job::Retention, t0, true);
        assert_eq!(s.due(t0, &intervals()), vec![Job::Retention]);
        assert_eq!(s.wait(t0, &intervals()), Duration::ZERO);
    }

    #[test]
    fn a_shorter_interval_takes_effect_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.ran(Job::Recovery, t0, false);
        s.ran(Job::Retention, t0, false);
        s.ran(Job::Metrics, t0, false);
        let faster = Intervals {
            recovery: S / 5,
            ..intervals()
        };
        assert_eq!(s.due(t0 + S, &faster), vec![Job::Recovery]);
        assert_eq!(s.wait(t0, &faster), S / 5);
    }
}
