//! Rows as the database describes them. Every statement returns each row as one JSON object
//! (`row_to_json(...)::text`), which keeps the column names and order of the function that
//! produced it; pages whose function may still change shape (consumers, health,
//! subscriptions, ...) render those rows generically, so a renamed or added column shows up
//! instead of breaking the page.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::filters::valid_topic;

/// One row: column names and values in the order of the result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(pub Vec<(String, Value)>);

impl Row {
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == column).map(|(_, v)| v)
    }

    pub fn get_str(&self, column: &str) -> Option<&str> {
        self.get(column).and_then(Value::as_str)
    }

    pub fn get_i64(&self, column: &str) -> Option<i64> {
        self.get(column).and_then(Value::as_i64)
    }

    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The row without `columns`.
    pub fn without(&self, columns: &[&str]) -> Row {
        Row(self
            .0
            .iter()
            .filter(|(k, _)| !columns.contains(&k.as_str()))
            .cloned()
            .collect())
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Row, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Row(out))
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Parses the text of one `row_to_json` value.
pub fn parse_row(text: &str) -> Result<Row, serde_json::Error> {
    serde_json::from_str(text)
}

/// A cell ready for a template: what to show, the whole value as a tooltip when cut, a CSS
/// class, and a link for ids and topics.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub title: Option<String>,
    pub class: &'static str,
    pub href: Option<String>,
}

/// Rows as a table: the union of their columns (in order of first appearance) and one cell
/// per column for each row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn from_rows(rows: &[Row]) -> Table {
        let mut columns: Vec<String> = Vec::new();
        for row in rows {
            for c in row.columns() {
                if !columns.iter().any(|k| k == c) {
                    columns.push(c.to_owned());
                }
            }
        }
        let rows = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|c| cell(c, row.get(c).unwrap_or(&Value::Null)))
                    .collect()
            })
            .collect();
        Table { columns, rows }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The longest text a cell shows before it is cut (the tooltip has more).
const CELL_CHARS: usize = 160;
const TITLE_CHARS: usize = 2000;

fn cut(text: &str, limit: usize) -> (String, bool) {
    match text.char_indices().nth(limit) {
        Some((at, _)) => (format!("{}…", &text[..at]), true),
        None => (text.to_owned(), false),
    }
}

/// Columns whose value is a message id and links to its page.
const MESSAGE_ID_COLUMNS: &[&str] = &[
    "message_id",
    "head_message_id",
    "replayed_message_id",
    "original_id",
];

/// The cell for `value` in column `column`.
pub fn cell(column: &str, value: &Value) -> Cell {
    let (text, class) = match value {
        Value::Null => (String::new(), "null"),
        Value::Bool(b) => ((if *b { "yes" } else { "no" }).to_owned(), "bool"),
        Value::Number(n) => (format_number(n), "num"),
        Value::String(s) => (display_string(s), status_class(column, s)),
        Value::Array(_) | Value::Object(_) => (value.to_string(), "json"),
    };
    let (shown, was_cut) = cut(&text, CELL_CHARS);
    let title = if was_cut {
        Some(cut(&text, TITLE_CHARS).0)
    } else if let Value::String(s) = value {
        // A shortened timestamp keeps its full form as the tooltip.
        (s != &shown).then(|| s.clone())
    } else {
        None
    };
    let href = match value {
        Value::Number(n) if MESSAGE_ID_COLUMNS.contains(&column) => n
            .as_i64()
            .filter(|id| *id > 0)
            .map(|id| format!("/messages/{id}")),
        Value::String(s) if column == "topic" && valid_topic(s) => Some(format!("/topics/{s}")),
        _ => None,
    };
    Cell {
        text: shown,
        title,
        class,
        href,
    }
}

fn format_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Some(f) => format!("{}", (f * 1000.0).round() / 1000.0),
        None => n.to_string(),
    }
}

/// Shows a timestamp as PostgreSQL's JSON gives it (`2026-11-21T13:00:29.13091+00:00`) as
/// `2026-11-21 13:00:29`; other strings as they are.
pub fn display_string(s: &str) -> String {
    if looks_like_timestamp(s) {
        format!("{} {}", &s[0..10], &s[11..19])
    } else {
        s.to_owned()
    }
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|i| b[*i].is_ascii_digit())
}

/// Statuses get a coloured badge.
fn status_class(column: &str, value: &str) -> &'static str {
    if !matches!(column, "status" | "event") {
        return "text";
    }
    match value.to_ascii_lowercase().as_str() {
        "ok" | "active" | "completed" => "badge ok",
        "warn" | "warning" | "idle" | "delayed" | "processing" | "replayed" | "recovered" => {
            "badge warn"
        }
        "critical" | "stale" | "failed" | "dead_lettered" | "error" => "badge critical",
        _ => "badge",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_keep_column_order() {
        let row = parse_row(r#"{"zeta": 1, "alpha": "a", "mid": null}"#).unwrap();
        assert_eq!(row.columns().collect::<Vec<_>>(), ["zeta", "alpha", "mid"]);
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"zeta":1,"alpha":"a","mid":null}"#
        );
        assert_eq!(row.get_i64("zeta"), Some(1));
        assert_eq!(row.get_str("alpha"), Some("a"));
        assert!(parse_row("[1, 2]").is_err());
        assert_eq!(row.without(&["alpha"]).columns().count(), 2);
    }

    #[test]
    fn tables_take_the_union_of_columns() {
        let rows = vec![
            parse_row(r#"{"a": 1, "b": 2}"#).unwrap(),
            parse_row(r#"{"a": 3, "c": true}"#).unwrap(),
        ];
        let t = Table::from_rows(&rows);
        assert_eq!(t.columns, ["a", "b", "c"]);
        assert_eq!(t.rows[1][1].text, "", "missing column shows empty");
        assert_eq!(t.rows[1][2].text, "yes");
    }

    #[test]
    fn cells_format_values() {
        assert_eq!(cell("n", &json!(1234)).text, "1234");
        assert_eq!(cell("n", &json!(0.123456)).text, "0.123");
        assert_eq!(cell("n", &json!(2.0)).text, "2");
        let ts = cell("created_at", &json!("2026-11-21T13:00:29.13091+00:00"));
        assert_eq!(ts.text, "2026-11-21 13:00:29");
        assert_eq!(ts.title.as_deref(), Some("2026-11-21T13:00:29.13091+00:00"));
        assert_eq!(cell("x", &json!({"k": "v"})).text, r#"{"k":"v"}"#);
        let long = cell("x", &json!("y".repeat(500)));
        assert!(long.text.chars().count() <= CELL_CHARS + 1);
        assert!(long.title.is_some());
        assert_eq!(cell("x", &json!("näïve")).text, "näïve");
    }

    #[test]
    fn cells_link_ids_and_topics() {
        assert_eq!(
            cell("message_id", &json!(7)).href.as_deref(),
            Some("/messages/7")
        );
        assert_eq!(
            cell("topic", &json!("emails")).href.as_deref(),
            Some("/topics/emails")
        );
        assert_eq!(cell("topic", &json!("a b")).href, None);
        assert_eq!(cell("count", &json!(7)).href, None);
    }

    #[test]
    fn statuses_get_badges() {
        assert_eq!(cell("status", &json!("critical")).class, "badge critical");
        assert_eq!(cell("status", &json!("ok")).class, "badge ok");
        assert_eq!(cell("status", &json!("stale")).class, "badge critical");
        assert_eq!(cell("detail", &json!("ok")).class, "text");
    }
}
