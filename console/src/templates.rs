//! The HTML templates, compiled into the binary. minijinja escapes every value in `.html`
//! templates unless a template says otherwise (none does).

use minijinja::{Environment, Value};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("topic.html", include_str!("../templates/topic.html")),
    ("message.html", include_str!("../templates/message.html")),
    (
        "dead_letters.html",
        include_str!("../templates/dead_letters.html"),
    ),
    (
        "confirm_replay.html",
        include_str!("../templates/confirm_replay.html"),
    ),
    (
        "consumers.html",
        include_str!("../templates/consumers.html"),
    ),
    ("health.html", include_str!("../templates/health.html")),
];

/// The templates, compiled once.
pub static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(environment);

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
    }
    env.add_filter("num", num);
    env.add_filter("rate", rate);
    env.add_filter("pct", pct);
    env.add_filter("age", age);
    env.add_filter("ts", ts);
    env
}

fn as_f64(v: &Value) -> Option<f64> {
    if v.is_none() || v.is_undefined() {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

const DASH: &str = "–";

/// A whole number with thousands separators.
pub fn num(v: Value) -> String {
    match as_f64(&v) {
        None => DASH.to_owned(),
        Some(f) => group_thousands(f.round() as i64),
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A rate per second.
pub fn rate(v: Value) -> String {
    match as_f64(&v) {
        None => DASH.to_owned(),
        Some(0.0) => "0".to_owned(),
        Some(f) if f.abs() < 0.01 => format!("{f:.4}"),
        Some(f) => format!("{f:.2}"),
    }
}

/// A ratio 0..1 as a percentage.
pub fn pct(v: Value) -> String {
    match as_f64(&v) {
        None => DASH.to_owned(),
        Some(f) => format!("{:.1}%", f * 100.0),
    }
}

/// Seconds as a short age: 850ms, 12.3s, 4m 05s, 3h 12m, 2d 04h.
pub fn age(v: Value) -> String {
    match as_f64(&v) {
        None => DASH.to_owned(),
        Some(s) => format_age(s),
    }
}

pub fn format_age(s: f64) -> String {
    if s < 1.0 {
        return format!("{:.0}ms", s * 1000.0);
    }
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let total = s as u64;
    let (d, h, m, sec) = (
        total / 86400,
        (total % 86400) / 3600,
        (total % 3600) / 60,
        total % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m {sec:02}s")
    }
}

/// A PostgreSQL JSON timestamp shown as `YYYY-MM-DD HH:MM:SS`.
pub fn ts(v: Value) -> String {
    match v.as_str() {
        Some(s) => crate::rows::display_string(s),
        None => DASH.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment();
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap();
        }
    }

    #[test]
    fn html_is_escaped() {
        let env = environment();
        let html = env
            .get_template("error.html")
            .unwrap()
            .render(minijinja::context! { status => 400, message => "<script>alert(1)</script>" })
            .unwrap();
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn number_formats() {
        assert_eq!(num(Value::from(1234567)), "1,234,567");
        assert_eq!(num(Value::from(-1000)), "-1,000");
        assert_eq!(num(Value::from(12)), "12");
        assert_eq!(num(Value::from(())), DASH);
        assert_eq!(rate(Value::from(20.314)), "20.31");
        assert_eq!(rate(Value::from(0.0)), "0");
        assert_eq!(rate(Value::from(0.0012)), "0.0012");
        assert_eq!(pct(Value::from(0.9978)), "99.8%");
        assert_eq!(format_age(0.25), "250ms");
        assert_eq!(format_age(12.34), "12.3s");
        assert_eq!(format_age(245.0), "4m 05s");
        assert_eq!(format_age(3.0 * 3600.0 + 720.0), "3h 12m");
        assert_eq!(format_age(2.0 * 86400.0 + 4.0 * 3600.0), "2d 04h");
    }
}
