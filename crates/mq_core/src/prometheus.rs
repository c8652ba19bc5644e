//! The Prometheus text exposition format (version 0.0.4) for `mq_metrics_prometheus()`. Pure Rust.

use std::fmt::Write;

use crate::latency::{self, Histogram};
use crate::metrics::TopicSnapshot;

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&TopicSnapshot) -> f64,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "mq_queue_depth",
        kind: "gauge",
        help: "Messages deliverable now (PENDING and due).",
        value: |t| t.pending as f64,
    },
    Family {
        name: "mq_processing",
        kind: "gauge",
        help: "Messages delivered and not yet completed or failed.",
        value: |t| t.processing as f64,
    },
    Family {
        name: "mq_delayed",
        kind: "gauge",
        help: "Messages not deliverable yet: scheduled for later, waiting for a retry, or behind an earlier message of their ordering key.",
        value: |t| t.delayed as f64,
    },
    Family {
        name: "mq_oldest_pending_age_seconds",
        kind: "gauge",
        help: "Seconds the oldest deliverable message has been due (0 when none is).",
        value: |t| t.oldest_pending_age_micros.unwrap_or(0) as f64 / 1e6,
    },
    Family {
        name: "mq_consumed_total",
        kind: "counter",
        help: "Deliveries completed.",
        value: |t| t.consumed_total as f64,
    },
    Family {
        name: "mq_failed_total",
        kind: "counter",
        help: "Deliveries failed (mq_fail calls and expired locks).",
        value: |t| t.failed_total as f64,
    },
    Family {
        name: "mq_dlq_total",
        kind: "counter",
        help: "Messages moved to the dead-letter table.",
        value: |t| t.dead_letter_total as f64,
    },
    Family {
        name: "mq_expired_total",
        kind: "counter",
        help: "Messages that expired before they were completed (and were dead-lettered).",
        value: |t| t.expired_total as f64,
    },
    Family {
        name: "mq_deduplicated_total",
        kind: "counter",
        help: "Publishes that returned an earlier message of their dedup key (nothing written).",
        value: |t| t.deduplicated_total as f64,
    },
    Family {
        name: "mq_dead_letters",
        kind: "gauge",
        help: "Dead letters not replayed.",
        value: |t| t.dead_letters as f64,
    },
    Family {
        name: "mq_topic_paused",
        kind: "gauge",
        help: "1 while the topic is paused (mq_pause), else 0.",
        value: |t| f64::from(u8::from(t.paused)),
    },
];

/// Which histogram of a topic a family shows.
type Pick = fn(&TopicSnapshot) -> &Histogram;

/// The latency histograms: name, help, which one.
const HISTOGRAMS: [(&str, &str, Pick); 2] = [
    (
        "mq_delivery_latency_seconds",
        "Seconds from when a message became due (its publish, unless published for later) to its first delivery.",
        |t| &t.latency.delivery,
    ),
    (
        "mq_processing_latency_seconds",
        "Seconds from a delivery to its completion.",
        |t| &t.latency.processing,
    ),
];

/// Renders every family, with a HELP and a TYPE line each and one sample per topic (the
/// histograms: `_bucket` per bound, `_sum` and `_count`, for the topics that have any).
pub fn render(topics: &[TopicSnapshot]) -> String {
    let mut out = render_families(topics);
    for (name, help, histogram) in HISTOGRAMS {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for topic in topics {
            let h = histogram(topic);
            if h.counts.is_empty() {
                continue;
            }
            let labels = labels(topic);
            let cumulative = h.cumulative();
            for (i, n) in cumulative.iter().enumerate() {
                let le = latency::BOUNDS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| format_value(*b));
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {n}");
            }
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", format_value(h.sum));
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count());
        }
    }
    out
}

fn labels(topic: &TopicSnapshot) -> String {
    let group = topic.group.as_deref().map_or_else(String::new, |g| {
        format!(",consumer_group=\"{}\"", escape_label_value(g))
    });
    format!("topic=\"{}\"{group}", escape_label_value(&topic.topic))
}

fn render_families(topics: &[TopicSnapshot]) -> String {
    let mut out = String::new();
    for family in FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for topic in topics {
            let group = topic.group.as_deref().map_or_else(String::new, |g| {
                format!(",consumer_group=\"{}\"", escape_label_value(g))
            });
            let _ = writeln!(
                out,
                "{}{{topic=\"{}\"{group}}} {}",
                family.name,
                escape_label_value(&topic.topic),
                format_value((family.value)(topic))
            );
        }
    }
    out
}

/// Label values escape backslash, double quote and newline.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicSnapshot {
        TopicSnapshot {
            topic: name.into(),
            group: None,
            at_micros: 0,
            pending: 3,
            delayed: 1,
            processing: 2,
            consumed_total: 40,
            failed_total: 5,
            dead_letter_total: 1,
            expired_total: 0,
            dead_letters: 0,
            deduplicated_total: 0,
            oldest_pending_age_micros: Some(1_500_000),
            paused: false,
            latency: Default::default(),
        }
    }

    #[test]
    fn every_family_has_help_type_and_a_sample_per_topic() {
        let text = render(&[topic("a"), topic("b.c")]);
        for family in FAMILIES {
            assert!(text.contains(&format!("# HELP {} ", family.name)));
            assert!(text.contains(&format!("# TYPE {} {}\n", family.name, family.kind)));
            assert!(text.contains(&format!("{}{{topic=\"a\"}} ", family.name)));
            assert!(text.contains(&format!("{}{{topic=\"b.c\"}} ", family.name)));
        }
        assert!(text.contains("mq_queue_depth{topic=\"a\"} 3\n"));
        assert!(text.contains("mq_oldest_pending_age_seconds{topic=\"a\"} 1.5\n"));
        assert!(text.contains("mq_consumed_total{topic=\"a\"} 40\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn no_topics_still_describes_the_families() {
        let text = render(&[]);
        assert_eq!(
            text.lines().count(),
            2 * (FAMILIES.len() + HISTOGRAMS.len())
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("x\ny"), "x\\ny");
    }

    /// Every `mq_…` identifier in `text`.
    fn metric_names(text: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("mq_") {
            let ident: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + ident.len()..];
            names.push(ident);
        }
        names
    }

    #[test]
    fn the_grafana_dashboard_uses_exactly_the_exported_metrics() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../../monitoring/grafana-dashboard.json"))
                .unwrap();
        let exprs: Vec<String> = dashboard["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().unwrap().iter())
            .map(|t| t["expr"].as_str().unwrap().to_owned())
            .collect();
        let used: Vec<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
        for name in &used {
            assert!(
                FAMILIES.iter().any(|f| f.name == name),
                "unknown metric {name}"
            );
        }
        for family in FAMILIES {
            assert!(
                used.iter().any(|u| u == family.name),
                "{} is not on the dashboard",
                family.name
            );
        }
    }

    #[test]
    fn the_exporter_query_yields_the_same_metric_names() {
        let yaml = include_str!("../../../monitoring/postgres_exporter-queries.yaml");
        assert!(
            yaml.starts_with("# ") && yaml.contains("\nmq:\n"),
            "namespace mq"
        );
        for family in FAMILIES {
            let column = family.name.strip_prefix("mq_").unwrap();
            assert!(
                yaml.contains(&format!("    - {column}:\n")),
                "{column} missing"
            );
            let usage = if family.kind == "counter" {
                "COUNTER"
            } else {
                "GAUGE"
            };
            let entry = &yaml[yaml.find(&format!("    - {column}:\n")).unwrap()..];
            assert!(
                entry.lines().nth(1).unwrap().contains(usage),
                "{column} is not a {usage}"
            );
        }
    }

    #[test]
    fn values_are_plain_numbers() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
    }

    #[test]
    fn latency_histograms_have_buckets_sum_and_count() {
        let mut t = topic("lat");
        t.latency.processing = Histogram {
            counts: crate::latency::bucket_counts([0.02, 0.3, 700.0]).unwrap(),
            sum: 700.32,
        };
        let text = render(&[t, topic("none")]);
        assert!(text.contains("# TYPE mq_processing_latency_seconds histogram\n"));
        assert!(
            text.contains("mq_processing_latency_seconds_bucket{topic=\"lat\",le=\"0.025\"} 1\n")
        );
        assert!(text.contains("mq_processing_latency_seconds_bucket{topic=\"lat\",le=\"300\"} 2\n"));
        assert!(
            text.contains("mq_processing_latency_seconds_bucket{topic=\"lat\",le=\"+Inf\"} 3\n")
        );
        assert!(text.contains("mq_processing_latency_seconds_sum{topic=\"lat\"} 700.32\n"));
        assert!(text.contains("mq_processing_latency_seconds_count{topic=\"lat\"} 3\n"));
        assert!(!text.contains("mq_delivery_latency_seconds_count"));
        assert!(!text.contains("topic=\"none\",le="));
    }
}
