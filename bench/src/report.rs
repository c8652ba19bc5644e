//! The results as a Markdown table and a JSON document.

use serde_json::{json, Value};

use crate::stats::Latency;

#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub system: String,
    /// Messages per second (for claim latency: claims per second of one connection).
    pub rate: f64,
    pub latency: Option<Latency>,
    pub note: String,
}

fn ratio(row: &Row, rows: &[Row]) -> Option<f64> {
    let raw = rows
        .iter()
        .find(|r| r.scenario == row.scenario && r.system == "raw SQL")?;
    (raw.rate > 0.0).then(|| row.rate / raw.rate)
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
    out.push_str(
        "\n| scenario | system | msgs/s | × raw SQL | latency ms p50 / p95 / p99 | notes |\n",
    );
    out.push_str("|---|---|---:|---:|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} |\n",
            row.scenario,
            row.system,
            row.rate,
            ratio(row, rows).map_or("".into(), |r| format!("{r:.2}")),
            fmt_latency(&row.latency),
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
                "note": row.note,
            })
        })
        .collect();
    json!({"meta": meta, "results": results})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scenario: &'static str, system: &str, rate: f64) -> Row {
        Row {
            scenario,
            system: system.into(),
            rate,
            latency: None,
            note: String::new(),
        }
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
        let doc = json(&rows, json!({}));
        assert_eq!(doc["results"][1]["ratio_to_raw_sql"], 0.9);
    }
}
