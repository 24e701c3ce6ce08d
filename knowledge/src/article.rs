//! Articles: the unit of the knowledge base, a plain serde struct that can come from the TOML
//! files of `content/`, from a database row or from an admin's JSON.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Lang};

/// One article of the knowledge base, in Simplified Chinese and English.
///
/// In TOML (one file per article in `content/`):
///
/// ```toml
/// id = "pension_transfer"
/// service_id = "pension_transfer"   # optional: FAQs have none
///
/// [zh]
/// title = "换城市工作，养老保险关系怎么跨地区转移"
/// keywords = ["转社保", "社保转移"]  # optional
/// body = """
/// 1. ...
/// """
///
/// [en]
/// title = "Moving your pension to a new city"
/// body = "..."
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    /// Stable key, `[a-z0-9_]`, 1 to 64 characters. Service articles use the service id.
    pub id: String,
    /// The catalogue service this article is about (the `services.id` the citizen is queued
    /// for on "talk to an agent"); `None` for general FAQs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// The Simplified Chinese version.
    pub zh: Localized,
    /// The English version.
    pub en: Localized,
}

/// An article's text in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// What the article answers, as a citizen would put it. Weighted most in the search.
    pub title: String,
    /// The answer for citizens: plain words, numbered steps, what to prepare. Plain text;
    /// lines starting with `1.`, `2.` … are steps, lines starting with `- ` are list items.
    pub body: String,
    /// Extra words citizens use for this topic (searched, never shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
}

impl Article {
    /// The text in `lang`.
    pub fn localized(&self, lang: Lang) -> &Localized {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// Checks what the index and the hub rely on: a well-formed id and service id, and a
    /// non-empty title and body in both languages.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid =
            |why: &str| Err(Error::InvalidArticle { id: self.id.clone(), why: why.into() });
        if !is_key(&self.id) {
            return invalid("id must be 1 to 64 characters of a-z, 0-9 and _");
        }
        if self.service_id.as_deref().is_some_and(|s| !is_key(s)) {
            return invalid("service_id must be 1 to 64 characters of a-z, 0-9 and _");
        }
        for (lang, text) in [("zh", &self.zh), ("en", &self.en)] {
            if text.title.trim().is_empty() {
                return invalid(&format!("{lang} title is empty"));
            }
            if text.body.trim().is_empty() {
                return invalid(&format!("{lang} body is empty"));
            }
        }
        Ok(())
    }

    /// Parses one article from TOML and validates it.
    pub fn from_toml(text: &str) -> Result<Article, Error> {
        let article: Article = toml::from_str(text)
            .map_err(|e| Error::Parse { origin: "TOML".into(), why: e.to_string() })?;
        article.validate()?;
        Ok(article)
    }
}

fn is_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// The articles shipped with the crate (the files of `knowledge/content/`, embedded at build
/// time), sorted by file name. Use them to seed the database or to build a
/// [`KnowledgeBase`](crate::KnowledgeBase) without touching the file system.
pub fn builtin_articles() -> Vec<Article> {
    builtin::BUILTIN
        .iter()
        .map(|(name, text)| {
            Article::from_toml(text).unwrap_or_else(|e| panic!("content/{name} is invalid: {e}"))
        })
        .collect()
}

/// Loads every `*.toml` article of a directory (sorted by file name). Fails on the first
/// unreadable or invalid file, or on two articles with the same id.
pub fn load_dir(dir: &Path) -> Result<Vec<Article>, Error> {
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", dir.display()));
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut articles: Vec<Article> = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let article = Article::from_toml(&text).map_err(|e| match e {
            Error::Parse { why, .. } => Error::Parse { origin: path.display().to_string(), why },
            other => other,
        })?;
        if articles.iter().any(|a| a.id == article.id) {
            return Err(Error::DuplicateId(article.id));
        }
        articles.push(article);
    }
    Ok(articles)
}
