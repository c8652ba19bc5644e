//! The shape of a batch acknowledgement (`mq_complete_batch`, `mq_fail_batch`): ids matched
//! with their leases by position, sent to the database sorted by id (so concurrent batches lock
//! rows in one order and cannot deadlock) and each id once, and the outcome reported back per
//! element, in the caller's order.

use crate::error::MqError;

/// A batch ready for its statement: each id once (its first occurrence), sorted by id, with the
/// lease given for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<L> {
    pub ids: Vec<i64>,
    pub leases: Vec<L>,
    /// For each element of the caller's array: its id, and whether it is the occurrence that
    /// went to the statement (later duplicates and NULL ids did not).
    elements: Vec<(Option<i64>, bool)>,
}

/// Matches `ids` with `leases` by position. NULL or empty `ids` is an empty batch. Otherwise
/// `leases` must be there, as long as `ids`, with no NULL element; a NULL id is skipped.
pub fn plan<L: Copy>(
    ids: Option<Vec<Option<i64>>>,
    leases: Option<Vec<Option<L>>>,
) -> Result<Batch<L>, MqError> {
    let ids = ids.unwrap_or_default();
    if ids.is_empty() {
        return Ok(Batch {
            ids: Vec::new(),
            leases: Vec::new(),
            elements: Vec::new(),
        });
    }
    let leases = leases.ok_or(MqError::NullArgument { argument: "leases" })?;
    if leases.len() != ids.len() {
        return Err(MqError::InvalidArgument {
            argument: "leases",
            reason: format!(
                "must have one lease per id: {} ids, {} leases",
                ids.len(),
                leases.len()
            ),
            hint: Some(
                "Pass the lease mq_poll returned with each message, in the same order as the ids.",
            ),
        });
    }
    let mut pairs: Vec<(i64, L)> = Vec::with_capacity(ids.len());
    let mut elements = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for (index, (id, lease)) in ids.iter().zip(&leases).enumerate() {
        let lease = lease.ok_or(MqError::NullElement {
            argument: "leases",
            index: index + 1,
        })?;
        match id {
            Some(id) if seen.insert(*id) => {
                pairs.push((*id, lease));
                elements.push((Some(*id), true));
            }
            other => elements.push((*other, false)),
        }
    }
    pairs.sort_by_key(|(id, _)| *id);
    Ok(Batch {
        ids: pairs.iter().map(|(id, _)| *id).collect(),
        leases: pairs.iter().map(|(_, lease)| *lease).collect(),
        elements,
    })
}

impl<L> Batch<L> {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// One row per element of the caller's array, in its order: the id and what it became
    /// (`outcome(id)`, None when the statement left it unchanged; always None for a NULL id or
    /// a repeated one).
    pub fn report<S: Clone>(
        &self,
        outcome: impl Fn(i64) -> Option<S>,
    ) -> Vec<(Option<i64>, Option<S>)> {
        self.elements
            .iter()
            .map(|(id, sent)| (*id, id.filter(|_| *sent).and_then(&outcome)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn null_or_empty_ids_are_an_empty_batch() {
        assert!(plan::<u8>(None, None).unwrap().is_empty());
        assert!(plan::<u8>(Some(vec![]), None).unwrap().is_empty());
        assert!(plan::<u8>(Some(vec![]), Some(vec![Some(1)]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn leases_must_match_the_ids() {
        let err = plan::<u8>(Some(vec![Some(1)]), None).unwrap_err();
        assert_eq!(err.sqlstate(), SqlState::NullValueNotAllowed);
        assert!(err.to_string().contains("\"leases\""));
        let err = plan(Some(vec![Some(1), Some(2)]), Some(vec![Some(7)])).unwrap_err();
        assert_eq!(err.sqlstate(), SqlState::InvalidParameterValue);
        assert!(err.to_string().contains("2 ids, 1 leases"), "{err}");
        let err = plan::<u8>(Some(vec![Some(1), Some(2)]), Some(vec![Some(7), None])).unwrap_err();
        assert_eq!(err.sqlstate(), SqlState::NullValueNotAllowed);
        assert!(err.to_string().contains("element 2"), "{err}");
    }

    #[test]
    fn sorted_by_id_each_once_reported_in_the_callers_order() {
        let batch = plan(
            Some(vec![Some(30), Some(10), None, Some(30), Some(20)]),
            Some(vec![Some('a'), Some('b'), Some('c'), Some('d'), Some('e')]),
        )
        .unwrap();
        assert_eq!(batch.ids, vec![10, 20, 30]);
        assert_eq!(batch.leases, vec!['b', 'e', 'a']);
        let report = batch.report(|id| (id != 20).then_some("COMPLETED"));
        assert_eq!(
            report,
            vec![
                (Some(30), Some("COMPLETED")),
                (Some(10), Some("COMPLETED")),
                (None, None),
                (Some(30), None),
                (Some(20), None),
            ]
        );
    }
}
