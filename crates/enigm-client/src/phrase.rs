//! The recovery phrase as a person types it: the word list for completion, and each word and
//! the whole phrase checked with enigm-core's rules while typing, so the app never re-implements
//! them.

use enigm_core::recovery;
use serde::Serialize;
use ts_rs::TS;

/// The recovery phrase's word list, sent once so the UI can complete what is typed; which words
/// are valid is still decided by [`PhraseCheck`].
#[derive(Debug, Serialize, TS)]
pub struct RecoveryWordList {
    /// How many words a phrase has.
    #[ts(type = "number")]
    pub count: usize,
    /// Every list word, in list order.
    pub words: Vec<String>,
}

impl RecoveryWordList {
    /// The core's BIP39 English list, gathered through its completion (every word starts with
    /// a letter).
    pub fn english() -> Self {
        let words = ('a'..='z')
            .flat_map(|letter| recovery::complete(letter.encode_utf8(&mut [0; 4])))
            .map(str::to_owned)
            .collect();
        Self {
            count: recovery::WORD_COUNT,
            words,
        }
    }
}

/// One typed word of a recovery phrase, as the core reads it.
#[derive(Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WordCheck {
    /// Nothing typed yet.
    Empty,
    /// The start of one or more list words, not yet one the phrase accepts.
    Prefix,
    /// Accepted; `word` is the list word it stands for (`aban` stands for `abandon`).
    Valid {
        /// The full list word.
        word: String,
    },
    /// No list word starts like this.
    Unknown,
}

/// Where the typed phrase stands as a whole.
#[derive(Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PhraseStatus {
    /// Some word is missing or not a list word.
    Incomplete,
    /// Every word is a list word, but the checksum does not match: a word is wrong or out of
    /// order.
    ChecksumFailed,
    /// The phrase is well formed; only the service can say whether it is this account's.
    Valid,
}

/// The check of a phrase being typed: each word, then the whole.
#[derive(Debug, Serialize, TS)]
pub struct PhraseCheck {
    /// One check per typed field, in order.
    pub words: Vec<WordCheck>,
    /// The phrase as a whole.
    pub status: PhraseStatus,
}

impl PhraseCheck {
    /// Reads `words` (one per field) with the core's rules.
    pub fn new(words: &[String]) -> Self {
        let checks: Vec<WordCheck> = words
            .iter()
            .map(|typed| {
                if typed.trim().is_empty() {
                    WordCheck::Empty
                } else if let Some(word) = recovery::resolve_word(typed) {
                    WordCheck::Valid {
                        word: word.to_owned(),
                    }
                } else if recovery::complete(typed).is_empty() {
                    WordCheck::Unknown
                } else {
                    WordCheck::Prefix
                }
            })
            .collect();
        let every_word = checks.len() == recovery::WORD_COUNT
            && checks
                .iter()
                .all(|check| matches!(check, WordCheck::Valid { .. }));
        let status = if !every_word {
            PhraseStatus::Incomplete
        } else {
            let joined = zeroize::Zeroizing::new(words.join(" "));
            match recovery::RecoveryPhrase::parse(&joined) {
                Ok(_) => PhraseStatus::Valid,
                Err(enigm_core::Error::RecoveryPhraseChecksum) => PhraseStatus::ChecksumFailed,
                Err(_) => PhraseStatus::Incomplete,
            }
        };
        Self {
            words: checks,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_list_is_the_cores_whole_list() {
        let list = RecoveryWordList::english();
        assert_eq!(list.count, 24);
        assert_eq!(list.words.len(), 2048);
        assert_eq!(list.words.first().map(String::as_str), Some("abandon"));
        assert_eq!(list.words.last().map(String::as_str), Some("zoo"));
    }

    fn typed(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn a_typed_phrase_is_checked_word_by_word_then_as_a_whole() {
        // BIP39's all-zero vector: 23 times "abandon", then "art".
        let mut words = vec!["abandon"; 23];
        words.push("art");
        assert_eq!(PhraseCheck::new(&typed(&words)).status, PhraseStatus::Valid);

        words[0] = "ABAN";
        words[1] = "ab";
        words[2] = "xyzzy";
        words[3] = " ";
        let check = PhraseCheck::new(&typed(&words));
        assert_eq!(
            check.words[..4],
            [
                WordCheck::Valid {
                    word: "abandon".to_owned()
                },
                WordCheck::Prefix,
                WordCheck::Unknown,
                WordCheck::Empty,
            ]
        );
        assert_eq!(check.status, PhraseStatus::Incomplete);

        let check = PhraseCheck::new(&typed(&["abandon"; 24]));
        assert_eq!(check.status, PhraseStatus::ChecksumFailed);
        let check = PhraseCheck::new(&typed(&["abandon"; 23]));
        assert_eq!(check.status, PhraseStatus::Incomplete);
    }
}
