//! The overview's charts, shaped from `mq_dashboard(window, step)`: a time series per metric
//! whose points carry one value per topic. A chart shows the total over all topics and the
//! few topics that matter most, so it stays readable with a thousand topics.

use serde::Serialize;
use serde_json::Value;

use crate::filters::ChartWindow;

/// Topics drawn besides the total in the depth chart.
pub const TOP_TOPICS: usize = 5;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    pub name: String,
    /// One per timestamp; None where the series has no value (a gap).
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Chart {
    pub key: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    /// RFC 3339, as mq_dashboard gives them.
    pub timestamps: Vec<String>,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChartData {
    pub window: &'static str,
    pub step_seconds: u32,
    pub generated_at: Option<String>,
    pub charts: Vec<Chart>,
}

/// A metric's series: for each point its timestamp and the values by topic.
struct Series<'a> {
    timestamps: Vec<String>,
    /// Per point: None when the point is before the first sample (only a timestamp).
    points: Vec<Option<Vec<(&'a str, f64)>>>,
}

fn series<'a>(doc: &'a Value, key: &str) -> Series<'a> {
    let points = doc
        .pointer(&format!("/timeSeries/{key}"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut out = Series {
        timestamps: Vec::with_capacity(points.len()),
        points: Vec::with_capacity(points.len()),
    };
    for point in points {
        let Some(object) = point.as_object() else {
            continue;
        };
        let timestamp = object
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let values: Vec<(&str, f64)> = object
            .iter()
            .filter(|(k, _)| k.as_str() != "timestamp")
            .filter_map(|(k, v)| v.as_f64().map(|f| (k.as_str(), f)))
            .collect();
        let has_data = object.len() > 1;
        out.timestamps.push(timestamp);
        out.points.push(has_data.then_some(values));
    }
    out
}

/// The total over topics at each point: None before the first sample; for a gauge (`absent_is_zero`)
/// a topic missing from a sampled point had nothing; for a rate it had no data, and a point
/// where no topic has a rate has none.
fn total(series: &Series<'_>, absent_is_zero: bool) -> Vec<Option<f64>> {
    series
        .points
        .iter()
        .map(|p| match p {
            None => None,
            Some(values) if values.is_empty() && !absent_is_zero => None,
            Some(values) => Some(values.iter().map(|(_, v)| v).sum()),
        })
        .collect()
}

/// The `n` topics with the highest peak, highest first (ties by name).
fn top_topics<'a>(series: &Series<'a>, n: usize) -> Vec<&'a str> {
    let mut peaks: Vec<(&str, f64)> = Vec::new();
    for values in series.points.iter().flatten() {
        for (topic, v) in values {
            match peaks.iter_mut().find(|(t, _)| t == topic) {
                Some((_, peak)) => *peak = peak.max(*v),
                None => peaks.push((topic, *v)),
            }
        }
    }
    peaks.retain(|(_, peak)| *peak > 0.0);
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    peaks.into_iter().take(n).map(|(t, _)| t).collect()
}

fn topic_line(series: &Series<'_>, topic: &str, absent_is_zero: bool) -> Line {
    Line {
        name: topic.to_owned(),
        values: series
            .points
            .iter()
            .map(|p| {
                p.as_ref().and_then(|values| {
                    values
                        .iter()
                        .find(|(t, _)| *t == topic)
                        .map(|(_, v)| *v)
                        .or(absent_is_zero.then_some(0.0))
                })
            })
            .collect(),
    }
}

/// Shapes an mq_dashboard document into the overview's two charts: queue depth (total and
/// the deepest topics) and the rates (consumed, failed, dead-lettered per second, totals).
pub fn shape(doc: &Value, window: ChartWindow) -> ChartData {
    let depth = series(doc, "queueDepth");
    let mut depth_lines = vec![Line {
        name: "total".to_owned(),
        values: total(&depth, true),
    }];
    depth_lines.extend(
        top_topics(&depth, TOP_TOPICS)
            .into_iter()
            .map(|t| topic_line(&depth, t, true)),
    );

    let consume = series(doc, "consumeRate");
    let failure = series(doc, "failureRate");
    let dlq = series(doc, "dlqRate");
    // The rate series share the depth series' timestamps; fall back to the consume series'.
    let rate_timestamps = if consume.timestamps.is_empty() {
        depth.timestamps.clone()
    } else {
        consume.timestamps.clone()
    };
    let rate_lines = vec![
        Line {
            name: "consumed/s".to_owned(),
            values: total(&consume, false),
        },
        Line {
            name: "failed/s".to_owned(),
            values: total(&failure, false),
        },
        Line {
            name: "dead-lettered/s".to_owned(),
            values: total(&dlq, false),
        },
    ];
    let rate_lines = rate_lines
        .into_iter()
        .map(|mut l| {
            l.values.resize(rate_timestamps.len(), None);
            l
        })
        .collect();

    ChartData {
        window: window.name(),
        step_seconds: window.step_seconds(),
        generated_at: doc
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned),
        charts: vec![
            Chart {
                key: "depth",
                title: "Queue depth",
                unit: "messages",
                timestamps: depth.timestamps.clone(),
                lines: depth_lines,
            },
            Chart {
                key: "rates",
                title: "Rates",
                unit: "per second",
                timestamps: rate_timestamps,
                lines: rate_lines,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "timestamp": "2026-11-21T13:00:00Z",
            "current": {},
            "timeSeries": {
                "queueDepth": [
                    {"timestamp": "t0"},
                    {"timestamp": "t1", "a": 5, "b": 1, "c": 0},
                    {"timestamp": "t2", "a": 2, "b": 9},
                    {"timestamp": "t3"}
                ],
                "consumeRate": [
                    {"timestamp": "t0"},
                    {"timestamp": "t1", "a": 1.5, "b": 0.5},
                    {"timestamp": "t2", "a": 2.0},
                    {"timestamp": "t3"}
                ],
                "failureRate": [
                    {"timestamp": "t0"}, {"timestamp": "t1", "a": 0.25}, {"timestamp": "t2"}, {"timestamp": "t3"}
                ],
                "dlqRate": []
            }
        })
    }

    #[test]
    fn depth_total_and_top_topics() {
        let data = shape(&doc(), ChartWindow::Hour);
        let depth = &data.charts[0];
        assert_eq!(depth.timestamps, ["t0", "t1", "t2", "t3"]);
        assert_eq!(depth.lines[0].name, "total");
        assert_eq!(depth.lines[0].values, [None, Some(6.0), Some(11.0), None]);
        // b peaks higher than a; c never above zero is left out.
        let names: Vec<&str> = depth.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["total", "b", "a"]);
        // A topic missing from a sampled point had nothing then.
        assert_eq!(depth.lines[2].values, [None, Some(5.0), Some(2.0), None]);
    }

    #[test]
    fn rate_totals_leave_gaps_where_there_is_no_data() {
        let data = shape(&doc(), ChartWindow::Day);
        assert_eq!(data.window, "1d");
        assert_eq!(data.generated_at.as_deref(), Some("2026-11-21T13:00:00Z"));
        let rates = &data.charts[1];
        assert_eq!(rates.lines[0].values, [None, Some(2.0), Some(2.0), None]);
        assert_eq!(rates.lines[1].values, [None, Some(0.25), None, None]);
        // An empty series is all gaps, as long as the others.
        assert_eq!(rates.lines[2].values, [None, None, None, None]);
    }

    #[test]
    fn top_topics_are_limited() {
        let mut points = vec![];
        for i in 0..20 {
            let mut p = serde_json::Map::new();
            p.insert("timestamp".into(), json!(format!("t{i}")));
            for t in 0..50 {
                p.insert(format!("topic{t:02}"), json!(t * (i + 1)));
            }
            points.push(Value::Object(p));
        }
        let doc = json!({"timeSeries": {"queueDepth": points}});
        let data = shape(&doc, ChartWindow::Hour);
        let names: Vec<&str> = data.charts[0]
            .lines
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["total", "topic49", "topic48", "topic47", "topic46", "topic45"]
        );
    }

    #[test]
    fn a_document_without_series_gives_empty_charts() {
        let data = shape(&json!({}), ChartWindow::Week);
        assert!(data.charts.iter().all(|c| c.timestamps.is_empty()));
        assert_eq!(data.charts[0].lines.len(), 1);
    }
}
