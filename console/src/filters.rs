//! Request parameters: query strings and form bodies, parsed and checked before any of them
//! reaches a statement (as a bound parameter, never as SQL text). A bad value is a 400 with a
//! message that names the parameter.

use std::fmt;

/// The largest page any listing returns.
pub const MAX_PAGE_SIZE: i32 = 500;
/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// Pages beyond this are refused (an OFFSET that large is never what an operator wants).
pub const MAX_PAGE: i32 = 100_000;
/// The most ids one form may select.
pub const MAX_SELECTED_IDS: usize = 10_000;
/// The longest key or header value a filter takes.
const MAX_KEY_LEN: usize = 1024;

/// A parameter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam(pub String);

impl fmt::Display for BadParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(param: &str, why: impl fmt::Display) -> BadParam {
    BadParam(format!("parameter \"{param}\": {why}"))
}

/// The name=value pairs of a query string or an `application/x-www-form-urlencoded` body, in
/// order, repeated names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(input: &[u8]) -> Params {
        Params(
            form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed; None when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Whether `topic` is a pg_mq topic name: 1 to 255 ASCII letters, digits and `. _ - :`.
pub fn valid_topic(topic: &str) -> bool {
    (1..=255).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// A topic parameter: checked against pg_mq's rules.
pub fn parse_topic(param: &str, value: &str) -> Result<String, BadParam> {
    if valid_topic(value) {
        Ok(value.to_owned())
    } else {
        Err(bad(
            param,
            "a topic is 1 to 255 ASCII letters, digits and . _ - :",
        ))
    }
}

/// A positive id (message, dead letter).
pub fn parse_id(value: &str) -> Option<i64> {
    value.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

fn parse_id_param(param: &str, value: &str) -> Result<i64, BadParam> {
    parse_id(value).ok_or_else(|| bad(param, "must be a positive whole number"))
}

/// A UUID in its usual text form (32 hex digits, with or without the four hyphens), returned
/// lower-case and hyphenated.
pub fn parse_uuid(param: &str, value: &str) -> Result<String, BadParam> {
    let hexdigits: String = value.chars().filter(|c| *c != '-').collect();
    let hyphens_ok = {
        let positions: Vec<usize> = value
            .char_indices()
            .filter(|(_, c)| *c == '-')
            .map(|(i, _)| i)
            .collect();
        positions.is_empty() || positions == [8, 13, 18, 23]
    };
    if hexdigits.len() != 32 || !hexdigits.chars().all(|c| c.is_ascii_hexdigit()) || !hyphens_ok {
        return Err(bad(
            param,
            "must be a UUID like 0190c4e2-8b1a-7c3d-9e4f-123456789abc",
        ));
    }
    let h = hexdigits.to_ascii_lowercase();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// The statuses the message list offers. pg_mq checks the value itself (an unknown status
/// is its 22023, a 400 here), so a version with other statuses needs only this list changed.
pub const MESSAGE_STATUSES: &[&str] = &[
    "PENDING",
    "SCHEDULED",
    "PROCESSING",
    "COMPLETED",
    "FAILED",
    "EXPIRED",
];

/// The status filter: a status word (any case), upper-cased.
pub fn parse_status(param: &str, value: &str) -> Result<String, BadParam> {
    let upper = value.to_ascii_uppercase();
    if (1..=32).contains(&upper.len()) && upper.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        Ok(upper)
    } else {
        Err(bad(
            param,
            format!("must be one of {}", MESSAGE_STATUSES.join(", ")),
        ))
    }
}

fn parse_key(param: &str, value: &str) -> Result<String, BadParam> {
    if value.len() > MAX_KEY_LEN {
        return Err(bad(param, format!("longer than {MAX_KEY_LEN} bytes")));
    }
    Ok(value.to_owned())
}

/// A header filter: `name=value`, or a JSON object the headers must contain. Returned as the
/// JSON object text (bound as a parameter and cast to jsonb).
pub fn parse_header(param: &str, value: &str) -> Result<String, BadParam> {
    if value.len() > MAX_KEY_LEN {
        return Err(bad(param, format!("longer than {MAX_KEY_LEN} bytes")));
    }
    if value.starts_with('{') {
        return match serde_json::from_str::<serde_json::Value>(value) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(v.to_string()),
            _ => Err(bad(param, "is not a JSON object")),
        };
    }
    let (name, val) = value
        .split_once('=')
        .ok_or_else(|| bad(param, "must be name=value or a JSON object"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad(param, "the header name is empty"));
    }
    let mut object = serde_json::Map::new();
    object.insert(
        name.to_owned(),
        serde_json::Value::String(val.trim().to_owned()),
    );
    Ok(serde_json::Value::Object(object).to_string())
}

/// A page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Paging {
    /// From 1.
    pub page: i32,
    /// 1 to [`MAX_PAGE_SIZE`]: larger requests are cut down to it.
    pub page_size: i32,
}

impl Paging {
    pub fn parse(params: &Params, default_size: i32) -> Result<Paging, BadParam> {
        let page = match params.get("page") {
            None => 1,
            Some(v) => v
                .parse::<i32>()
                .ok()
                .filter(|p| (1..=MAX_PAGE).contains(p))
                .ok_or_else(|| bad("page", format!("must be between 1 and {MAX_PAGE}")))?,
        };
        let page_size = match params.get("page_size") {
            None => default_size,
            Some(v) => v
                .parse::<i32>()
                .ok()
                .filter(|s| *s >= 1)
                .ok_or_else(|| bad("page_size", "must be a whole number of 1 or more"))?
                .min(MAX_PAGE_SIZE),
        };
        Ok(Paging { page, page_size })
    }

    /// Rows to skip (for listings paged in SQL with LIMIT/OFFSET).
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.page_size)
    }
}

/// The type a filter value is cast to in SQL (it is always bound as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Text,
    Uuid,
    Jsonb,
}

impl SqlType {
    /// The cast after `$n::text`.
    pub fn cast(self) -> &'static str {
        match self {
            SqlType::Text => "text",
            SqlType::Uuid => "uuid",
            SqlType::Jsonb => "jsonb",
        }
    }
}

/// A filter of the message list that is an argument of `mq_messages`. A filter is offered
/// when the installed `mq_messages` has an argument of that name; adding one is one entry
/// here.
#[derive(Debug)]
pub struct MessageFilterDef {
    /// Query-string name.
    pub param: &'static str,
    /// Argument name of mq_messages (passed by name).
    pub arg: &'static str,
    pub label: &'static str,
    pub sql_type: SqlType,
    pub parse: fn(&str, &str) -> Result<String, BadParam>,
    /// Shown in the form.
    pub placeholder: &'static str,
}

pub const MESSAGE_FILTERS: &[MessageFilterDef] = &[
    MessageFilterDef {
        param: "status",
        arg: "status",
        label: "Status",
        sql_type: SqlType::Text,
        parse: parse_status,
        placeholder: "PENDING",
    },
    MessageFilterDef {
        param: "trace_id",
        arg: "trace_id",
        label: "Trace id",
        sql_type: SqlType::Uuid,
        parse: parse_uuid,
        placeholder: "uuid",
    },
    MessageFilterDef {
        param: "ordering_key",
        arg: "ordering_key",
        label: "Ordering key",
        sql_type: SqlType::Text,
        parse: parse_key,
        placeholder: "key",
    },
    MessageFilterDef {
        param: "dedup_key",
        arg: "dedup_key",
        label: "Dedup key",
        sql_type: SqlType::Text,
        parse: parse_key,
        placeholder: "key",
    },
    MessageFilterDef {
        param: "header",
        arg: "headers",
        label: "Header",
        sql_type: SqlType::Jsonb,
        parse: parse_header,
        placeholder: "name=value",
    },
];

/// The message list's filters of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFilter {
    /// One value per entry of [`MESSAGE_FILTERS`], in its order (None: not filtered).
    pub values: Vec<Option<String>>,
    /// A message id: the list shows that message alone.
    pub id: Option<i64>,
    pub paging: Paging,
}

impl MessageFilter {
    pub fn parse(params: &Params) -> Result<MessageFilter, BadParam> {
        let values = MESSAGE_FILTERS
            .iter()
            .map(|def| {
                params
                    .get(def.param)
                    .map(|v| (def.parse)(def.param, v))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id = params
            .get("id")
            .map(|v| parse_id_param("id", v))
            .transpose()?;
        Ok(MessageFilter {
            values,
            id,
            paging: Paging::parse(params, DEFAULT_PAGE_SIZE)?,
        })
    }

    /// The filters given that `supported` (argument names of mq_messages) lacks.
    pub fn unsupported(&self, supported: &[String]) -> Vec<&'static str> {
        MESSAGE_FILTERS
            .iter()
            .zip(&self.values)
            .filter(|(def, v)| v.is_some() && !supported.iter().any(|a| a == def.arg))
            .map(|(def, _)| def.param)
            .collect()
    }

    /// The value of filter `param`, if given.
    pub fn value(&self, param: &str) -> Option<&str> {
        MESSAGE_FILTERS
            .iter()
            .position(|d| d.param == param)
            .and_then(|i| self.values[i].as_deref())
    }
}

/// The dead-letter list's filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterFilter {
    pub topic: Option<String>,
    /// None: replayed or not. The default is "not replayed".
    pub replayed: Option<bool>,
    pub paging: Paging,
}

impl DeadLetterFilter {
    pub fn parse(params: &Params) -> Result<DeadLetterFilter, BadParam> {
        let topic = params
            .get("topic")
            .map(|t| parse_topic("topic", t))
            .transpose()?;
        let replayed = match params.get("replayed") {
            None | Some("false") | Some("no") => Some(false),
            Some("true") | Some("yes") => Some(true),
            Some("any") | Some("all") => None,
            Some(_) => return Err(bad("replayed", "must be no, yes or any")),
        };
        Ok(DeadLetterFilter {
            topic,
            replayed,
            paging: Paging::parse(params, DEFAULT_PAGE_SIZE)?,
        })
    }

    /// The value of `replayed` for links and forms.
    pub fn replayed_param(&self) -> &'static str {
        match self.replayed {
            Some(false) => "no",
            Some(true) => "yes",
            None => "any",
        }
    }
}

/// What a replay form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    /// One dead letter.
    One(i64),
    /// The ticked dead letters.
    Selected(Vec<i64>),
    /// Every dead letter not yet replayed that matches the filter (topic: None = any).
    AllMatching { topic: Option<String> },
}

/// A replay form: what to replay, and whether the operator has confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    pub target: ReplayTarget,
    pub confirmed: bool,
}

impl ReplayRequest {
    pub fn parse(params: &Params) -> Result<ReplayRequest, BadParam> {
        let confirmed = params.get("confirm") == Some("yes");
        let target = if let Some(one) = params.get("one") {
            ReplayTarget::One(parse_id_param("one", one)?)
        } else {
            match params.get("mode") {
                Some("all") => ReplayTarget::AllMatching {
                    topic: params
                        .get("topic")
                        .map(|t| parse_topic("topic", t))
                        .transpose()?,
                },
                Some("selected") => {
                    let mut ids = params
                        .all("id")
                        .map(|v| parse_id_param("id", v))
                        .collect::<Result<Vec<_>, _>>()?;
                    ids.sort_unstable();
                    ids.dedup();
                    if ids.is_empty() {
                        return Err(bad("id", "select at least one dead letter"));
                    }
                    if ids.len() > MAX_SELECTED_IDS {
                        return Err(bad("id", format!("at most {MAX_SELECTED_IDS} at once")));
                    }
                    ReplayTarget::Selected(ids)
                }
                Some("one") => {
                    let id = params.get("id").ok_or_else(|| bad("id", "missing"))?;
                    ReplayTarget::One(parse_id_param("id", id)?)
                }
                _ => return Err(bad("mode", "must be one, selected or all")),
            }
        };
        Ok(ReplayRequest { target, confirmed })
    }
}

/// The window of the overview's charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartWindow {
    Hour,
    Day,
    Week,
}

impl ChartWindow {
    pub fn parse(value: Option<&str>) -> Result<ChartWindow, BadParam> {
        match value {
            None | Some("1h") => Ok(ChartWindow::Hour),
            Some("1d") => Ok(ChartWindow::Day),
            Some("1w") => Ok(ChartWindow::Week),
            Some(_) => Err(bad("window", "must be 1h, 1d or 1w")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChartWindow::Hour => "1h",
            ChartWindow::Day => "1d",
            ChartWindow::Week => "1w",
        }
    }

    /// The window and step passed to mq_dashboard, as interval text (constants, not input).
    pub fn interval_and_step(self) -> (&'static str, &'static str) {
        match self {
            ChartWindow::Hour => ("1 hour", "1 minute"),
            ChartWindow::Day => ("1 day", "20 minutes"),
            ChartWindow::Week => ("7 days", "2 hours"),
        }
    }

    /// How long a computed chart is reused: a fraction of its step, and never longer than a
    /// few metrics samples.
    pub fn cache_ttl(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            ChartWindow::Hour => 10,
            ChartWindow::Day => 60,
            ChartWindow::Week => 300,
        })
    }

    pub fn step_seconds(self) -> u32 {
        match self {
            ChartWindow::Hour => 60,
            ChartWindow::Day => 1200,
            ChartWindow::Week => 7200,
        }
    }
}

/// Whether a subscription's topic pattern covers `topic`: the pattern itself, or a glob where
/// `*` stands for any run of characters and `?` for one.
pub fn pattern_matches(pattern: &str, topic: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    // Collapse runs of '*' so that hostile patterns stay linear enough.
    let mut compact = Vec::with_capacity(pattern.len());
    for b in pattern.bytes() {
        if !(b == b'*' && compact.last() == Some(&b'*')) {
            compact.push(b);
        }
    }
    pattern.len() <= 1024 && go(&compact, topic.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::parse(q.as_bytes())
    }

    #[test]
    fn params_keep_order_and_repeats_and_decode() {
        let p = params("id=1&id=2&topic=a%3Ab&empty=&x=+y+");
        assert_eq!(p.all("id").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(p.get("topic"), Some("a:b"));
        assert_eq!(p.get("empty"), None);
        assert_eq!(p.get("x"), Some("y"));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn topics_follow_pg_mq_rules() {
        assert!(valid_topic("orders"));
        assert!(valid_topic("a.b_c-d:e9"));
        assert!(valid_topic(&"x".repeat(255)));
        assert!(!valid_topic(""));
        assert!(!valid_topic(&"x".repeat(256)));
        assert!(!valid_topic("has space"));
        assert!(!valid_topic("quote'"));
        assert!(!valid_topic("ünï"));
        assert!(parse_topic("topic", "a/b").is_err());
    }

    #[test]
    fn ids_are_positive() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id(" 7 "), Some(7));
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("-1"), None);
        assert_eq!(parse_id("1e3"), None);
        assert_eq!(parse_id("99999999999999999999"), None);
        assert_eq!(parse_id("abc"), None);
    }

    #[test]
    fn uuids_are_normalised() {
        let u = "0190C4E2-8B1A-7C3D-9E4F-123456789ABC";
        assert_eq!(
            parse_uuid("t", u).unwrap(),
            "0190c4e2-8b1a-7c3d-9e4f-123456789abc"
        );
        assert_eq!(
            parse_uuid("t", "0190c4e28b1a7c3d9e4f123456789abc").unwrap(),
            "0190c4e2-8b1a-7c3d-9e4f-123456789abc"
        );
        assert!(parse_uuid("t", "0190c4e2-8b1a-7c3d-9e4f-123456789ab").is_err());
        assert!(parse_uuid("t", "0190c4e2-8b1a-7c3d-9e4f-123456789abz").is_err());
        assert!(parse_uuid("t", "0190c4e28-b1a-7c3d-9e4f-123456789abc").is_err());
        assert!(parse_uuid("t", "'; DROP TABLE x; --").is_err());
    }

    #[test]
    fn statuses_are_checked() {
        assert_eq!(parse_status("s", "pending").unwrap(), "PENDING");
        assert_eq!(parse_status("s", "FAILED").unwrap(), "FAILED");
        assert_eq!(parse_status("s", "scheduled").unwrap(), "SCHEDULED");
        let e = parse_status("status", "DONE; --").unwrap_err();
        assert!(e.0.contains("\"status\""), "{e}");
    }

    #[test]
    fn header_filters_become_json_objects() {
        assert_eq!(
            parse_header("h", "source=billing").unwrap(),
            r#"{"source":"billing"}"#
        );
        assert_eq!(parse_header("h", r#"{"a": 1}"#).unwrap(), r#"{"a":1}"#);
        assert!(parse_header("h", "no-equals").is_err());
        assert!(parse_header("h", "=x").is_err());
        assert!(parse_header("h", "[1]").is_err());
        assert!(parse_header("h", "{not json").is_err());
    }

    #[test]
    fn paging_defaults_and_caps() {
        assert_eq!(
            Paging::parse(&params(""), 50).unwrap(),
            Paging {
                page: 1,
                page_size: 50
            }
        );
        let p = Paging::parse(&params("page=3&page_size=100000"), 50).unwrap();
        assert_eq!((p.page, p.page_size), (3, MAX_PAGE_SIZE));
        assert_eq!(p.offset(), 1000);
        assert!(Paging::parse(&params("page=0"), 50).is_err());
        assert!(Paging::parse(&params("page=x"), 50).is_err());
        assert!(Paging::parse(&params("page_size=0"), 50).is_err());
        assert!(Paging::parse(&params("page=999999999"), 50).is_err());
    }

    #[test]
    fn message_filters_parse_in_definition_order() {
        let f = MessageFilter::parse(&params(
            "status=failed&trace_id=0190c4e28b1a7c3d9e4f123456789abc&header=a=b&page=2",
        ))
        .unwrap();
        assert_eq!(f.value("status"), Some("FAILED"));
        assert_eq!(
            f.value("trace_id"),
            Some("0190c4e2-8b1a-7c3d-9e4f-123456789abc")
        );
        assert_eq!(f.value("header"), Some(r#"{"a":"b"}"#));
        assert_eq!(f.value("ordering_key"), None);
        assert_eq!(f.values.len(), MESSAGE_FILTERS.len());
        assert_eq!(f.paging.page, 2);
        assert_eq!(f.id, None);
        assert!(MessageFilter::parse(&params("status=no%20pe")).is_err());
        assert!(MessageFilter::parse(&params("id=-3")).is_err());
        assert_eq!(MessageFilter::parse(&params("id=9")).unwrap().id, Some(9));
    }

    #[test]
    fn filters_the_installed_function_lacks_are_named() {
        let f = MessageFilter::parse(&params("status=PENDING&ordering_key=k1&header=a=b")).unwrap();
        let today: Vec<String> = ["topic", "status", "trace_id", "page", "page_size"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(f.unsupported(&today), ["ordering_key", "header"]);
        let later: Vec<String> = today
            .iter()
            .cloned()
            .chain(["ordering_key".into(), "dedup_key".into(), "headers".into()])
            .collect();
        assert!(f.unsupported(&later).is_empty());
    }

    #[test]
    fn dead_letter_filter_defaults_to_not_replayed() {
        let f = DeadLetterFilter::parse(&params("")).unwrap();
        assert_eq!(f.replayed, Some(false));
        assert_eq!(f.topic, None);
        let f = DeadLetterFilter::parse(&params("topic=emails&replayed=any")).unwrap();
        assert_eq!(f.replayed, None);
        assert_eq!(f.topic.as_deref(), Some("emails"));
        assert_eq!(f.replayed_param(), "any");
        assert!(DeadLetterFilter::parse(&params("replayed=maybe")).is_err());
        assert!(DeadLetterFilter::parse(&params("topic=bad%20topic")).is_err());
    }

    #[test]
    fn replay_forms() {
        let r = ReplayRequest::parse(&params("one=5&id=1&id=2&mode=selected")).unwrap();
        assert_eq!(r.target, ReplayTarget::One(5), "a row's own button wins");
        assert!(!r.confirmed);
        let r = ReplayRequest::parse(&params("mode=selected&id=3&id=1&id=3&confirm=yes")).unwrap();
        assert_eq!(r.target, ReplayTarget::Selected(vec![1, 3]));
        assert!(r.confirmed);
        let r = ReplayRequest::parse(&params("mode=all&topic=emails")).unwrap();
        assert_eq!(
            r.target,
            ReplayTarget::AllMatching {
                topic: Some("emails".into())
            }
        );
        let r = ReplayRequest::parse(&params("mode=one&id=8")).unwrap();
        assert_eq!(r.target, ReplayTarget::One(8));
        assert!(ReplayRequest::parse(&params("mode=selected")).is_err());
        assert!(ReplayRequest::parse(&params("mode=selected&id=x")).is_err());
        assert!(ReplayRequest::parse(&params("mode=everything")).is_err());
        assert!(ReplayRequest::parse(&params("")).is_err());
        assert!(ReplayRequest::parse(&params("one=0")).is_err());
    }

    #[test]
    fn subscription_patterns() {
        assert!(pattern_matches("orders", "orders"));
        assert!(!pattern_matches("orders", "orders2"));
        assert!(pattern_matches("orders.*", "orders.eu"));
        assert!(pattern_matches("*", "anything"));
        assert!(pattern_matches("a?c", "abc"));
        assert!(!pattern_matches("a?c", "ac"));
        assert!(pattern_matches("**.x", "a.b.x"));
        assert!(!pattern_matches("orders.*", "payments.eu"));
    }

    #[test]
    fn chart_windows() {
        assert_eq!(ChartWindow::parse(None).unwrap(), ChartWindow::Hour);
        assert_eq!(ChartWindow::parse(Some("1w")).unwrap().name(), "1w");
        assert_eq!(
            ChartWindow::Day.interval_and_step(),
            ("1 day", "20 minutes")
        );
        assert!(ChartWindow::parse(Some("5m")).is_err());
        // Every window has at most a few hundred points.
        for w in [ChartWindow::Hour, ChartWindow::Day, ChartWindow::Week] {
            let seconds = match w {
                ChartWindow::Hour => 3600,
                ChartWindow::Day => 86400,
                ChartWindow::Week => 604800,
            };
            assert!(seconds / w.step_seconds() <= 200);
        }
    }
}
