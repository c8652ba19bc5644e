//! Publish–subscribe routing: consumer groups subscribe to topic patterns, and a message
//! published to a topic goes to every group with a matching pattern. Pure Rust.
//!
//! A topic is words separated by `.`; in a pattern `*` stands for exactly one word and `#`
//! for zero or more words (as in AMQP topic exchanges); a pattern without them matches that
//! topic only.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::MqError;
use crate::validation;

/// One word of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Literal(String),
    /// `*`: exactly one word.
    One,
    /// `#`: zero or more words.
    Any,
}

/// A checked topic pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    words: Vec<Word>,
}

const PATTERN_HINT: &str = "A pattern is topic words separated by '.', where '*' stands for one word and '#' for zero or more, e.g. 'orders.*' or 'audit.#'.";

impl Pattern {
    /// Checks `topic_pattern`: 1 to 255 characters; words separated by `.`, none empty; each
    /// word `*`, `#`, or made of topic characters.
    pub fn parse(topic_pattern: Option<&str>) -> Result<Pattern, MqError> {
        let text = validation::required("topic_pattern", topic_pattern)?;
        let invalid = |reason: String| MqError::InvalidArgument {
            argument: "topic_pattern",
            reason,
            hint: Some(PATTERN_HINT),
        };
        if text.is_empty() {
            return Err(invalid("must not be empty".into()));
        }
        let length = text.chars().count();
        if length > validation::TOPIC_MAX_LEN {
            return Err(invalid(format!(
                "is {length} characters long, the limit is {}",
                validation::TOPIC_MAX_LEN
            )));
        }
        let mut words = Vec::new();
        for (i, word) in text.split('.').enumerate() {
            let word = match word {
                "" => return Err(invalid(format!("has an empty word (word {})", i + 1))),
                "*" => Word::One,
                "#" => Word::Any,
                w => {
                    if let Some(c) = w
                        .chars()
                        .find(|c| !validation::is_topic_char(*c) || *c == '.')
                    {
                        return Err(invalid(format!(
                            "word {} ({w:?}) contains {c:?}: '*' and '#' must be whole words",
                            i + 1
                        )));
                    }
                    Word::Literal(w.to_owned())
                }
            };
            words.push(word);
        }
        Ok(Pattern {
            text: text.to_owned(),
            words,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has no wildcard (it matches one topic).
    pub fn is_literal(&self) -> bool {
        self.words.iter().all(|w| matches!(w, Word::Literal(_)))
    }

    /// Whether `topic` matches.
    pub fn matches(&self, topic: &str) -> bool {
        let topic: Vec<&str> = topic.split('.').collect();
        matches_from(&self.words, &topic)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether `words` match `topic` exactly (dynamic programming over the two word lists, so a
/// pattern of many `#` stays linear in their product).
fn matches_from(words: &[Word], topic: &[&str]) -> bool {
    // can[j]: the pattern's first i words match the topic's first j words.
    let mut can = vec![false; topic.len() + 1];
    can[0] = true;
    for word in words {
        let mut next = vec![false; topic.len() + 1];
        for j in 0..=topic.len() {
            match word {
                Word::Any => {
                    // Zero words, or one more than the previous position allowed.
                    next[j] = can[j] || (j > 0 && next[j - 1]);
                }
                Word::One => next[j] = j > 0 && can[j - 1],
                Word::Literal(w) => next[j] = j > 0 && can[j - 1] && topic[j - 1] == w,
            }
        }
        can = next;
    }
    can[topic.len()]
}

/// The consumer groups whose subscriptions match `topic`, each once, in name order.
pub fn groups_for<'a>(
    topic: &str,
    subscriptions: impl IntoIterator<Item = (&'a str, &'a Pattern)>,
) -> Vec<String> {
    let groups: BTreeSet<&str> = subscriptions
        .into_iter()
        .filter(|(_, pattern)| pattern.matches(topic))
        .map(|(group, _)| group)
        .collect();
    groups.into_iter().map(str::to_owned).collect()
}

/// A consumer group's name: the rules of a topic name, for argument `consumer_group`.
pub fn consumer_group(consumer_group: Option<&str>) -> Result<&str, MqError> {
    validation::name("consumer_group", consumer_group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    fn p(text: &str) -> Pattern {
        Pattern::parse(Some(text)).unwrap()
    }

    #[test]
    fn star_is_one_word_and_hash_any_number() {
        let cases = [
            ("orders", "orders", true),
            ("orders", "orders.eu", false),
            ("orders.*", "orders.eu", true),
            ("orders.*", "orders", false),
            ("orders.*", "orders.eu.paid", false),
            ("orders.#", "orders", true),
            ("orders.#", "orders.eu.paid", true),
            ("#", "anything.at.all", true),
            ("#.paid", "paid", true),
            ("#.paid", "orders.eu.paid", true),
            ("#.paid", "orders.eu.paid.late", false),
            ("*.eu.#", "orders.eu", true),
            ("*.eu.#", "eu", false),
            ("a.#.b", "a.b", true),
            ("a.#.b", "a.x.y.b", true),
            ("a.#.b", "a.x.y", false),
            ("#.#", "a", true),
            ("a.*.#.c", "a.b.c", true),
            ("a.*.#.c", "a.c", false),
        ];
        for (pattern, topic, expected) in cases {
            assert_eq!(p(pattern).matches(topic), expected, "{pattern} vs {topic}");
        }
    }

    #[test]
    fn bad_patterns_are_refused_naming_the_argument() {
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "or*ders",
            "a.b#",
            "a b",
            "é",
            &"x".repeat(256),
        ] {
            let e = Pattern::parse(Some(bad)).unwrap_err();
            assert_eq!(e.sqlstate(), SqlState::InvalidParameterValue, "{bad:?}");
            assert!(
                e.to_string().starts_with("argument \"topic_pattern\""),
                "{e}"
            );
        }
        assert_eq!(
            Pattern::parse(None).unwrap_err().sqlstate(),
            SqlState::NullValueNotAllowed
        );
        assert!(p("orders.eu").is_literal());
        assert!(!p("orders.*").is_literal());
    }

    #[test]
    fn a_group_gets_a_topic_once_however_many_patterns_match() {
        let (a, b, c) = (p("orders.*"), p("orders.#"), p("audit.#"));
        let subs = [
            ("billing", &a),
            ("billing", &b),
            ("audit", &c),
            ("shipping", &b),
        ];
        assert_eq!(
            groups_for("orders.eu", subs.iter().map(|(g, p)| (*g, *p))),
            vec!["billing".to_owned(), "shipping".to_owned()]
        );
        assert!(groups_for("other", subs.iter().map(|(g, p)| (*g, *p))).is_empty());
    }

    #[test]
    fn group_names_follow_the_topic_rules() {
        assert_eq!(consumer_group(Some("billing-v2")).unwrap(), "billing-v2");
        let e = consumer_group(Some("bad group")).unwrap_err();
        assert!(e.to_string().starts_with("argument \"consumer_group\""));
        assert_eq!(
            consumer_group(None).unwrap_err().sqlstate(),
            SqlState::NullValueNotAllowed
        );
    }
}
