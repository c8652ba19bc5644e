//! The names of a message's life: the statuses of `mq.messages.status` and the events of
//! `mq.traces.event`, each declared once here.
//!
//! SQL spells them as literals (in the CHECK constraints of sql/schema/, the statements of
//! sql/statements/ and the listings' argument checks); Rust code uses these enums. Tests hold
//! the two together: `sql_literals_are_known_names` below reads every SQL file, and the
//! `lifecycle` pg_tests compare [`Status::ALL`] and [`TraceEvent::ALL`] with the installed CHECK
//! constraints and with what `mq_messages` / `mq_traces` accept. Adding a status or an event
//! is: a variant here, its SQL, the update script, and those tests name whatever was missed.

use std::fmt;

/// Declares a name enum with `ALL`, `as_str`, `parse` and `Display`.
macro_rules! names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every name, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name as SQL spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant SQL spells `text`, if any (exact, case-sensitive).
            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// `mq.messages.status`.
    pub enum Status {
        /// Waiting behind an earlier message of its ordering key.
        Waiting = "WAITING",
        /// Not due yet: published for later, or waiting out a retry's backoff.
        Scheduled = "SCHEDULED",
        /// Due: waiting for a poll.
        Pending = "PENDING",
        /// Delivered and locked until its lease expires.
        Processing = "PROCESSING",
        /// Acknowledged by `mq_complete`.
        Completed = "COMPLETED",
        /// Retries exhausted; a copy is in `mq.dead_letters`.
        Failed = "FAILED",
        /// Not completed before its expiry; a copy is in `mq.dead_letters` (error 'expired').
        Expired = "EXPIRED",
    }
}

names! {
    /// `mq.traces.event`.
    pub enum TraceEvent {
        Published = "PUBLISHED",
        Processing = "PROCESSING",
        Completed = "COMPLETED",
        Failed = "FAILED",
        DeadLettered = "DEAD_LETTERED",
        Replayed = "REPLAYED",
        Recovered = "RECOVERED",
        Purged = "PURGED",
        Expired = "EXPIRED",
    }
}

/// `names` joined as an English list: "A, B or C".
pub fn spoken_list<T: fmt::Display>(names: &[T]) -> String {
    let words: Vec<String> = names.iter().map(ToString::to_string).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(*s));
        }
        for e in TraceEvent::ALL {
            assert_eq!(TraceEvent::parse(e.as_str()), Some(*e));
        }
        assert_eq!(Status::parse("pending"), None);
        assert_eq!(
            spoken_list(Status::ALL),
            "WAITING, SCHEDULED, PENDING, PROCESSING, COMPLETED, FAILED or EXPIRED"
        );
    }

    /// Every `'UPPER_CASE'` literal in the SQL files under `dir`.
    fn sql_literals(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sql_literals(&path, found);
            } else if path.extension().is_some_and(|e| e == "sql") {
                literals_of(&std::fs::read_to_string(&path).unwrap(), found);
            }
        }
    }

    /// The `'UPPER_CASE'` literals of SQL text, also inside literals that are SQL themselves
    /// (dynamic SQL, whose own literals are written with doubled quotes); `--` comments are
    /// skipped.
    fn literals_of(sql: &str, found: &mut BTreeSet<String>) {
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '\'' => {
                    let mut literal = String::new();
                    while let Some(c) = chars.next() {
                        if c == '\'' {
                            if chars.peek() == Some(&'\'') {
                                chars.next();
                                literal.push('\'');
                            } else {
                                break;
                            }
                        } else {
                            literal.push(c);
                        }
                    }
                    if literal.len() > 2
                        && literal.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    {
                        found.insert(literal);
                    } else if literal.contains('\'') {
                        literals_of(&literal, found);
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn literals_of_sql_and_of_its_dynamic_sql() {
        let mut found = BTreeSet::new();
        literals_of(
            "SELECT 'PENDING', 'it''s' -- 'IGNORED' and a topic's\n\
             , 'x = ''FAILED'' AND y = ''''' || 'DONE'",
            &mut found,
        );
        let found: Vec<&str> = found.iter().map(|s| s.as_str()).collect();
        assert_eq!(found, ["DONE", "FAILED", "PENDING"]);
    }

    /// SQL may only spell lifecycle names this module declares (the frozen install scripts of
    /// earlier releases under sql/releases/ are history and are not read).
    #[test]
    fn sql_literals_are_known_names() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql");
        let mut found = BTreeSet::new();
        sql_literals(&root.join("schema"), &mut found);
        sql_literals(&root.join("statements"), &mut found);
        let known: BTreeSet<String> = Status::ALL
            .iter()
            .map(|s| s.as_str().to_owned())
            .chain(TraceEvent::ALL.iter().map(|e| e.as_str().to_owned()))
            .collect();
        // Upper-case literals of SQL that are not lifecycle names.
        const OTHER: &[&str] = &["MODULE_PATHNAME", "USAGE"];
        let unknown: Vec<&String> = found
            .difference(&known)
            .filter(|name| !OTHER.contains(&name.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "SQL names unknown lifecycle names: {unknown:?}"
        );
        for name in &known {
            assert!(
                found.contains(name),
                "{name} is declared but no SQL uses it"
            );
        }
    }
}
