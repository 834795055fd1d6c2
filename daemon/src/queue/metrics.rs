//! Counters for `GET /metrics`, rendered in the Prometheus text format:
//! queue depth, runs by verdict and language, a run-time histogram, sandbox
//! failures, and requests turned away (by reason).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the run-time histogram, in seconds.
pub const RUN_SECONDS_BUCKETS: [f64; 12] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; RUN_SECONDS_BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// Submissions queued, not yet claimed.
    pub queued: AtomicI64,
    /// Submissions and executions being run by a worker slot.
    pub running: AtomicI64,
    pub slots: AtomicI64,
    runs: Mutex<BTreeMap<(String, String), u64>>,
    run_seconds: Mutex<Histogram>,
    pub sandbox_failures: AtomicU64,
    pub executions: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// A judged submission: its verdict, language and how long judging took.
    pub fn observe_run(&self, verdict: &str, language: &str, seconds: f64) {
        *self.runs.lock().unwrap_or_else(|p| p.into_inner()).entry((verdict.into(), language.into())).or_default() += 1;
        let mut histogram = self.run_seconds.lock().unwrap_or_else(|p| p.into_inner());
        for (bound, count) in RUN_SECONDS_BUCKETS.iter().zip(histogram.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// A request turned away: `rate_limited`, `backlog_full`, `unauthorized`, ...
    pub fn reject(&self, reason: &'static str) {
        *self.rejected.lock().unwrap_or_else(|p| p.into_inner()).entry(reason).or_default() += 1;
    }

    pub fn queue_depth(&self) -> i64 {
        self.queued.load(Ordering::SeqCst).max(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge(&mut out, "acejudge_queue_depth", "Submissions waiting for a worker slot.", self.queue_depth());
        gauge(
            &mut out,
            "acejudge_running",
            "Submissions and executions being run.",
            self.running.load(Ordering::SeqCst),
        );
        gauge(&mut out, "acejudge_worker_slots", "Worker slots.", self.slots.load(Ordering::SeqCst));

        let _ = writeln!(out, "# HELP acejudge_runs_total Judged submissions by verdict and language.");
        let _ = writeln!(out, "# TYPE acejudge_runs_total counter");
        for ((verdict, language), count) in self.runs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "acejudge_runs_total{{verdict=\"{}\",language=\"{}\"}} {count}",
                escape(verdict),
                escape(language)
            );
        }

        let histogram = self.run_seconds.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP acejudge_run_seconds Time to judge a submission, from claim to verdict.");
        let _ = writeln!(out, "# TYPE acejudge_run_seconds histogram");
        for (bound, count) in RUN_SECONDS_BUCKETS.iter().zip(histogram.counts.iter()) {
            let _ = writeln!(out, "acejudge_run_seconds_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "acejudge_run_seconds_bucket{{le=\"+Inf\"}} {}", histogram.count);
        let _ = writeln!(out, "acejudge_run_seconds_sum {}", histogram.sum);
        let _ = writeln!(out, "acejudge_run_seconds_count {}", histogram.count);
        drop(histogram);

        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            &mut out,
            "acejudge_sandbox_failures_total",
            "Runs the host could not carry out (sandbox or runner faults).",
            self.sandbox_failures.load(Ordering::SeqCst),
        );
        counter(
            &mut out,
            "acejudge_executions_total",
            "Ad-hoc executions run.",
            self.executions.load(Ordering::SeqCst),
        );
        let _ = writeln!(out, "# HELP acejudge_rejected_requests_total Requests turned away, by reason.");
        let _ = writeln!(out, "# TYPE acejudge_rejected_requests_total counter");
        for (reason, count) in self.rejected.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "acejudge_rejected_requests_total{{reason=\"{reason}\"}} {count}");
        }
        out
    }
}

/// Escapes a label value.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_counted_by_verdict_and_language_and_bucketed_cumulatively() {
        let metrics = Metrics::default();
        metrics.observe_run("accepted", "python", 0.2);
        metrics.observe_run("accepted", "python", 4.0);
        metrics.observe_run("wrong_answer", "go", 0.2);
        let text = metrics.render();
        assert!(text.contains("acejudge_runs_total{verdict=\"accepted\",language=\"python\"} 2"), "{text}");
        assert!(text.contains("acejudge_runs_total{verdict=\"wrong_answer\",language=\"go\"} 1"), "{text}");
        assert!(text.contains("acejudge_run_seconds_bucket{le=\"0.25\"} 2"), "{text}");
        assert!(text.contains("acejudge_run_seconds_bucket{le=\"5\"} 3"), "{text}");
        assert!(text.contains("acejudge_run_seconds_count 3"), "{text}");
    }
}
