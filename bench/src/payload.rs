//! Message payloads: a sequence number and the moment the message was (meant to be) sent, so
//! consumers can measure publish → delivery latency.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn make(n: i64, sent_at_micros: i64) -> Value {
    json!({"n": n, "sent_at": sent_at_micros, "body": "pg_mq benchmark message"})
}

/// Milliseconds from the payload's send time to now.
pub fn age_ms(payload: &Value, now_micros: i64) -> Option<f64> {
    payload["sent_at"]
        .as_i64()
        .map(|sent| (now_micros - sent) as f64 / 1000.0)
}

/// SQL producing the same payload server-side, for bulk fills (`n` names the series column).
pub const SQL_PAYLOAD: &str =
    "jsonb_build_object('n', n, 'sent_at', (extract(epoch FROM clock_timestamp()) * 1e6)::bigint, 'body', 'pg_mq benchmark message')";
