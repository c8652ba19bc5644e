//! Command line and environment.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;

use crate::auth::MIN_TOKEN_LEN;

/// The web console of pg_mq. It connects with one connection string; the role it connects as
/// decides what it may do (a monitor role sees, an admin role acts).
///
/// Set MQ_CONSOLE_TOKEN to require a login (scripts send `Authorization: Bearer <token>`,
/// browsers log in with the token). Without a token the console listens only on loopback.
#[derive(Debug, Clone, Parser)]
#[command(name = "mq-console", version)]
pub struct Args {
    /// PostgreSQL connection string (URL or key=value form), e.g.
    /// postgresql://ops@localhost/postgres
    #[arg(long, env = "MQ_CONSOLE_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Address to listen on (host:port)
    #[arg(long, env = "MQ_CONSOLE_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// statement_timeout of every database session (e.g. 5s, 500ms)
    #[arg(long, env = "MQ_CONSOLE_STATEMENT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub statement_timeout: Duration,

    /// Database connections in the pool
    #[arg(long, env = "MQ_CONSOLE_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub pool_size: u16,

    /// Mark the session cookie Secure (when the console is served over HTTPS by a proxy)
    #[arg(long, env = "MQ_CONSOLE_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// Seconds between live updates of the overview in the browser
    #[arg(long, env = "MQ_CONSOLE_REFRESH_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub refresh_seconds: u32,
}

/// Parses `host:port`, where host may be an IP address or `localhost`.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = value.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("bad port in listen address {value:?}"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    Err(format!(
        "listen address {value:?} is not host:port with an IP address or localhost"
    ))
}

/// Parses `5s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let (number, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration like 5s or 500ms"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n * 60),
        _ => return Err(format!("{value:?}: the unit must be ms, s or m")),
    };
    if d.is_zero() {
        return Err("a duration of zero is not allowed".to_owned());
    }
    Ok(d)
}

/// Checks the token and the listen address together: without a token the console must not
/// be reachable from other machines.
pub fn check_access(token: Option<&str>, listen: SocketAddr) -> Result<(), String> {
    match token {
        Some(t) if t.len() < MIN_TOKEN_LEN => Err(format!(
            "MQ_CONSOLE_TOKEN must be at least {MIN_TOKEN_LEN} characters"
        )),
        Some(_) => Ok(()),
        None if listen.ip().is_loopback() => Ok(()),
        None => Err(format!(
            "refusing to listen on {listen} without a token: set MQ_CONSOLE_TOKEN, or listen on a loopback address such as 127.0.0.1"
        )),
    }
}

/// The token from the environment: unset or empty means none.
pub fn token_from_env() -> Option<String> {
    std::env::var("MQ_CONSOLE_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            parse_listen("localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            parse_listen("[::1]:80").unwrap(),
            "[::1]:80".parse().unwrap()
        );
        assert!(parse_listen("example.org:80").is_err());
        assert!(parse_listen("localhost:x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn no_token_means_loopback_only() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_access(None, lo).is_ok());
        assert!(check_access(None, lo6).is_ok());
        assert!(check_access(None, any).is_err());
        assert!(check_access(Some("0123456789abcdef"), any).is_ok());
        assert!(check_access(Some("short"), lo).is_err());
    }
}
