//! The results as a Markdown table and a JSON document.

use serde_json::{json, Value};

use crate::stats::Latency;

/// One measured window of one system in one scenario.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub scenario: String,
    pub system: String,
    /// Messages counted in the database over the window.
    pub messages: f64,
    /// Length of the window; 0 for rows that measure only latency (g and h), which then show
    /// no rate.
    pub seconds: f64,
    /// Publish → delivery (or claim, poll, call) latencies in milliseconds.
    pub latencies: Vec<f64>,
    /// WAL written over the window (0: not measured).
    pub wal_bytes: i64,
    pub note: String,
}

/// Merges the rounds of each (scenario, system), in first-seen order: the rate over the sum
/// of the windows, the latency percentiles over all samples.
pub fn merge(measurements: Vec<Measurement>) -> Vec<Row> {
    let mut merged: Vec<Measurement> = Vec::new();
    for m in measurements {
        match merged
            .iter_mut()
            .find(|x| x.scenario == m.scenario && x.system == m.system)
        {
            Some(x) => {
                x.messages += m.messages;
                x.seconds += m.seconds;
                x.latencies.extend(m.latencies);
                x.wal_bytes += m.wal_bytes;
                if !m.note.is_empty() && !x.note.contains(&m.note) {
                    x.note = format!("{}; {}", x.note, m.note);
                }
            }
            None => merged.push(m),
        }
    }
    merged
        .into_iter()
        .map(|m| Row {
            scenario: m.scenario,
            system: m.system,
            rate: (m.seconds > 0.0).then(|| m.messages / m.seconds),
            latency: crate::stats::latency(m.latencies),
            wal_per_message: (m.wal_bytes > 0 && m.messages > 0.0)
                .then(|| m.wal_bytes as f64 / m.messages),
            note: m.note,
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub system: String,
    /// Messages per second (for claim latency: claims per second of one connection); None
    /// for rows that measure only latency.
    pub rate: Option<f64>,
    pub latency: Option<Latency>,
    /// WAL bytes written per message counted (the whole server, so background work too).
    pub wal_per_message: Option<f64>,
    pub note: String,
}

fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    let raw = rows
        .iter()
        .find(|r| r.scenario == row.scenario && r.system == "raw SQL")?;
    let (rate, raw_rate) = (row.rate?, raw.rate?);
    (raw_rate > 0.0).then(|| rate / raw_rate)
}

fn fmt_latency(l: &Option<Latency>) -> String {
    match l {
        Some(l) => format!("{:.2} / {:.2} / {:.2}", l.p50, l.p95, l.p99),
        None => "".into(),
    }
}

pub fn markdown(rows: &[Row], header: &str) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push_str("\n| scenario | system | msgs/s | × raw SQL | latency ms p50 / p95 / p99 | WAL bytes/msg | notes |\n");
    out.push_str("|---|---|---:|---:|---|---:|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.scenario,
            row.system,
            row.rate.map_or("".into(), |r| format!("{r:.0}")),
            ratio(row, rows).map_or("".into(), |r| format!("{r:.2}")),
            fmt_latency(&row.latency),
            row.wal_per_message.map_or("".into(), |w| format!("{w:.0}")),
            row.note
        ));
    }
    out
}

pub fn json(rows: &[Row], meta: Value) -> Value {
    let results: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "scenario": row.scenario,
                "system": row.system,
                "msgs_per_sec": row.rate,
                "ratio_to_raw_sql": ratio(row, rows),
                "latency_ms": row.latency.map(|l| json!({"p50": l.p50, "p95": l.p95, "p99": l.p99, "samples": l.samples})),
                "wal_bytes_per_msg": row.wal_per_message,
                "note": row.note,
            })
        })
        .collect();
    json!({"meta": meta, "results": results})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scenario: &str, system: &str, rate: f64) -> Row {
        Row {
            scenario: scenario.into(),
            system: system.into(),
            rate: Some(rate),
            latency: None,
            wal_per_message: None,
            note: String::new(),
        }
    }

    #[test]
    fn rounds_merge_into_one_row() {
        let m = |messages: f64, seconds: f64, lat: f64, note: &str| Measurement {
            scenario: "c".into(),
            system: "pg_mq".into(),
            messages,
            seconds,
            latencies: vec![lat],
            wal_bytes: 1000,
            note: note.into(),
        };
        let rows = merge(vec![m(100.0, 1.0, 1.0, "x"), m(300.0, 3.0, 3.0, "x")]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].rate, Some(100.0));
        assert_eq!(rows[0].latency.unwrap().samples, 2);
        assert_eq!(rows[0].note, "x");
    }

    #[test]
    fn ratios_are_to_raw_sql_of_the_same_scenario() {
        let rows = vec![
            row("a", "raw SQL", 100.0),
            row("a", "pg_mq", 90.0),
            row("b", "pg_mq", 5.0),
        ];
        assert_eq!(ratio(&rows[1], &rows), Some(0.9));
        assert_eq!(ratio(&rows[2], &rows), None);
        let md = markdown(&rows, "# t\n");
        assert!(md.contains("| a | pg_mq | 90 | 0.90 |"));
        assert!(md.contains("WAL bytes/msg"));
        let doc = json(&rows, json!({}));
        assert_eq!(doc["results"][1]["ratio_to_raw_sql"], 0.9);
    }

    #[test]
    fn latency_only_rows_show_no_rate() {
        let rows = merge(vec![Measurement {
            scenario: "h".into(),
            system: "pg_mq: mq_metrics()".into(),
            messages: 0.0,
            seconds: 0.0,
            latencies: vec![3.0, 1.0, 2.0],
            wal_bytes: 0,
            note: String::new(),
        }]);
        assert_eq!(rows[0].rate, None);
        let md = markdown(&rows, "");
        assert!(md.contains("| h | pg_mq: mq_metrics() |  |  | 2.00 / 3.00 / 3.00 |"));
        assert!(json(&rows, json!({}))["results"][0]["msgs_per_sec"].is_null());
    }
}
