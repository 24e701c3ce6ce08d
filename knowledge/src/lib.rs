//! The knowledge base of voicedesk's intelligent self-service assistant.
//!
//! Bilingual [`Article`]s (Simplified Chinese and English, one per service of the hall's
//! catalogue plus general FAQs) are indexed in RAM with tantivy: Chinese is segmented with
//! jieba (plus character bigrams as a safety net), English is stemmed. Questions are expanded
//! with a [synonym table](synonyms) of the words citizens use, searched with BM25 over titles
//! (boosted), keywords and bodies, and answered with a [`Confidence`].
//!
//! ```
//! use voicedesk_knowledge::{Confidence, KnowledgeBase};
//!
//! let kb = KnowledgeBase::builtin().unwrap();
//! let answer = kb.answer("异地就医备案怎么办", None);
//! assert_eq!(answer.best.unwrap().article_id, "medical_out_of_area_registration");
//! assert_eq!(answer.confidence, Confidence::High);
//! ```
//!
//! The base is `Send + Sync`; every method takes `&self`. [`KnowledgeBase::upsert`] and
//! [`KnowledgeBase::remove`] re-index one article and are visible to the next search.

mod analysis;
mod article;
pub mod correct;
mod facets;
pub mod scope;
mod search;
pub mod synonyms;

pub use analysis::analyze;
pub use article::{Article, Localized, builtin_articles, load_dir};
pub use scope::Referral;
pub use search::{Answer, Confidence, ConfidenceRule, Hit, KnowledgeBase, MissRecorder};
pub use synonyms::SynonymGroup;

use serde::{Deserialize, Serialize};

/// A language of the assistant. Serialized as `"zh"` / `"en"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `"zh"` or `"en"`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// The language of a question: Chinese as soon as it holds a CJK ideograph (citizens mix in
/// Latin words such as "App" or "3D" but never write English with Chinese characters),
/// English otherwise.
pub fn detect_lang(text: &str) -> Lang {
    if analysis::has_cjk(text) { Lang::Zh } else { Lang::En }
}

/// What can go wrong loading or changing the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An article breaks a rule of [`Article::validate`].
    #[error("article {id:?}: {why}")]
    InvalidArticle {
        /// The article's id as given.
        id: String,
        /// What is wrong.
        why: String,
    },
    /// A content file could not be parsed.
    #[error("{origin}: {why}")]
    Parse {
        /// The file (or format) it came from.
        origin: String,
        /// The parser's message.
        why: String,
    },
    /// Two articles share an id.
    #[error("two articles have the id {0:?}")]
    DuplicateId(String),
    /// A content directory could not be read.
    #[error("reading content: {0}")]
    Io(String),
    /// The search index failed (not expected with an in-RAM index).
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}
