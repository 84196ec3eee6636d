//! Answers remembered for as long as nothing is committed.
//!
//! A read such as describing a job is a function of the committed state alone, so its answer
//! holds until the writer's next commit. [`Memo`] keeps answers tagged with the commit count seen
//! before they were read, and serves them only while that count is still current: any commit
//! makes every entry stale at once, which keeps the rule simple enough to be obviously right.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// Remembered answers of one commit count, at most `capacity` of them.
pub(crate) struct Memo<K, V> {
    capacity: usize,
    entries: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    /// The commit count every entry was read at.
    commits: u64,
    answers: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Memo {
            capacity,
            entries: Mutex::new(Entries {
                commits: 0,
                answers: HashMap::new(),
            }),
        }
    }

    /// The answer for `key` if one was read since the commit that made the count `commits`.
    pub(crate) fn get(&self, key: &K, commits: u64) -> Option<V> {
        let entries = self.lock();
        if entries.commits != commits {
            return None;
        }
        entries.answers.get(key).cloned()
    }

    /// Keeps `answer`, read after the commit count was seen to be `commits`. An answer read
    /// before a newer commit is dropped; the first answer of a newer count drops all the others.
    pub(crate) fn put(&self, key: K, commits: u64, answer: V) {
        let mut entries = self.lock();
        if commits < entries.commits {
            return;
        }
        if commits > entries.commits {
            entries.commits = commits;
            entries.answers.clear();
        }
        if entries.answers.len() < self.capacity || entries.answers.contains_key(&key) {
            entries.answers.insert(key, answer);
        }
    }

    /// Entries are whole values, so a request that panicked cannot have left one half-written.
    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_served_only_at_the_commit_count_it_was_read_at() {
        let memo = Memo::new(8);
        memo.put("job", 3, 1);
        assert_eq!(memo.get(&"job", 3), Some(1));
        assert_eq!(memo.get(&"job", 4), None, "a later commit makes it stale");
        assert_eq!(memo.get(&"other", 3), None);
    }

    #[test]
    fn an_answer_read_before_a_newer_commit_is_not_kept() {
        let memo = Memo::new(8);
        memo.put("job", 5, 2);
        memo.put("job", 4, 1);
        assert_eq!(memo.get(&"job", 5), Some(2));
        assert_eq!(memo.get(&"job", 4), None);
    }

    #[test]
    fn a_newer_commit_drops_every_older_answer() {
        let memo = Memo::new(8);
        memo.put("a", 1, 1);
        memo.put("b", 2, 2);
        memo.put("b", 1, 9);
        assert_eq!(memo.get(&"a", 2), None);
        assert_eq!(memo.get(&"b", 2), Some(2));
    }

    #[test]
    fn no_more_than_capacity_answers_are_kept() {
        let memo = Memo::new(2);
        for (key, value) in [("a", 1), ("b", 2), ("c", 3)] {
            memo.put(key, 1, value);
        }
        assert_eq!(memo.get(&"c", 1), None, "a full memo takes no new key");
        memo.put("a", 1, 10);
        assert_eq!(
            memo.get(&"a", 1),
            Some(10),
            "a key it holds is still replaced"
        );
        assert_eq!(memo.lock().answers.len(), 2);
    }
}
