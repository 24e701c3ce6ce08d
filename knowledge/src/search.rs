//! The in-RAM index, the search and the answer.
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analysis::{self, EN, ZH, ZH_BIGRAM};
use crate::correct;
use crate::facets::Facets;
use crate::scope::{self, Referral};
use crate::synonyms::{self, SYNONYM_WEIGHT, SynonymGroup};
use crate::{Article, Error, Lang, detect_lang};

/// Weight of a match in an article's title.
pub(crate) const TITLE_BOOST: f32 = 3.0;
/// Weight of a match in an article's keywords.
pub(crate) const KEYWORDS_BOOST: f32 = 2.0;
/// Weight of a match in an article's body.
pub(crate) const BODY_BOOST: f32 = 1.0;
/// Weight of a Chinese character-bigram match (title, keywords and body together).
pub(crate) const BIGRAM_BOOST: f32 = 0.3;
/// How many hits [`KnowledgeBase::answer`] looks at.
const ANSWER_DEPTH: usize = 4;
/// How many BM25 hits are re-ranked by their [`Facets`] (the right article of a near-neighbour
/// pair is almost always among the first few).
const RERANK_DEPTH: usize = 10;
/// The weight in [`Hit::coverage`] of a question's term that no article uses (a place name,
/// the citizen's background): measured on the tuning set, 0.5 answers more long questions
/// directly than 1 at the same precision.
pub(crate) const UNKNOWN_TERM_WEIGHT: f32 = 0.5;
/// Below this share of the question's terms used by some article, the question is about
/// something the knowledge base does not know ("recommend a stock to buy"). English only: on
/// the tuning set it caught out-of-scope English questions, while long Chinese questions cut by
/// jieba into many unknown pieces lost direct answers and gained nothing.
pub(crate) const MIN_KNOWN_SHARE: f32 = 0.5;
/// Below this [`Hit::coverage`] of the best hit, no article answers the question.
pub(crate) const OUT_OF_SCOPE_COVERAGE: f32 = 0.34;
/// The index writer's memory budget: tantivy's minimum for one thread is 15 MB.
const WRITER_BUDGET: usize = 20_000_000;

/// One article found for a question, in the question's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The article's id.
    pub article_id: String,
    /// The catalogue service the article is about (queue the citizen there on "talk to an
    /// agent"); `None` for general FAQs.
    pub service_id: Option<String>,
    /// The language of `title` and `body`.
    pub lang: Lang,
    /// The article's title.
    pub title: String,
    /// The article's body: the answer with its numbered steps, as plain text.
    pub body: String,
    /// The BM25 score (higher is better; comparable only within one question).
    pub score: f32,
    /// The share (0 to 1) of the question's own words (after spelling correction and analysis,
    /// synonyms not counted) that occur in the article, in any field; a word no article uses
    /// counts half. Comparable across questions, unlike `score`.
    pub coverage: f32,
}

/// Whether the best hit can be given as the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Give `best` as the answer.
    High,
    /// Show the suggestions and offer a human or a message.
    Low,
}

/// The rule that turns the top hits into a [`Confidence`]: `High` when the top hit covers at
/// least `min_coverage` of the question's words, its score is at least `min_score`, and at
/// least `min_ratio` times the second score (or there is no second hit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceRule {
    /// The lowest top score for `High`.
    pub min_score: f32,
    /// The lowest top-to-second score ratio for `High`.
    pub min_ratio: f32,
    /// The lowest [`Hit::coverage`] of the top hit for `High`.
    pub min_coverage: f32,
}

impl Default for ConfidenceRule {
    /// The rule measured on the evaluation set (see `docs/self-service.md`).
    fn default() -> Self {
        ConfidenceRule { min_score: 1.0, min_ratio: 1.3, min_coverage: 0.4 }
    }
}

impl ConfidenceRule {
    /// True when the top two hits both answer the question well enough (the top one with the
    /// coverage for `High`) and only the score ratio kept the answer from `High`: the citizen is
    /// asked which of the two they mean.
    pub fn is_close_call(&self, hits: &[Hit]) -> bool {
        let (Some(top), Some(second)) = (hits.first(), hits.get(1)) else { return false };
        top.coverage >= self.min_coverage
            && second.coverage >= self.min_coverage
            && top.score < self.min_ratio * second.score
    }

    /// The confidence for hits sorted best first.
    pub fn judge(&self, hits: &[Hit]) -> Confidence {
        let Some(top) = hits.first() else { return Confidence::Low };
        let second = hits.get(1).map_or(0.0, |h| h.score);
        if top.coverage >= self.min_coverage
            && top.score >= self.min_score
            && top.score >= self.min_ratio * second
        {
            Confidence::High
        } else {
            Confidence::Low
        }
    }
}

/// The assistant's answer to a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The language of the question (given or detected) and of the hits.
    pub lang: Lang,
    /// The answer to give: the top hit when the confidence is `High`, `None` otherwise.
    pub best: Option<Hit>,
    /// With `High`: up to two related articles ("see also"). With `Low`: up to three articles
    /// that might answer, best first (empty when nothing matched at all).
    pub suggestions: Vec<Hit>,
    /// See [`ConfidenceRule`].
    pub confidence: Confidence,
    /// With `Low`: the first two suggestions are close and both plausible: ask the citizen which
    /// one they mean (one tap each) rather than guessing.
    #[serde(default)]
    pub close_call: bool,
    /// No article answers the question: say so plainly, give `referral`, and offer a human.
    /// `confidence` is then `Low`; `suggestions` may still hold loosely related articles.
    #[serde(default)]
    pub out_of_scope: bool,
    /// With `out_of_scope`: the office or hotline that handles such questions (the government
    /// service hotline when no better one is known).
    #[serde(default)]
    pub referral: Option<Referral>,
}

impl Answer {
    /// Every article of the answer, best first: `best` (when `High`) then the suggestions.
    pub fn ranked(&self) -> impl Iterator<Item = &Hit> {
        self.best.iter().chain(&self.suggestions)
    }
}

/// An article and the set of its terms per language (for [`Hit::coverage`]).
struct Entry {
    article: Article,
    terms_zh: HashSet<String>,
    terms_en: HashSet<String>,
    /// The English words of the article (unstemmed, lower case), for spelling correction.
    words_en: HashSet<String>,
    /// The topics and intents of its titles.
    facets: Facets,
}

impl Entry {
    fn new(index: &Index, article: Article) -> Entry {
        let set = |name: &str, text: &crate::Localized| -> HashSet<String> {
            let mut analyzer = index.tokenizers().get(name).expect("analyzer registered");
            let all = format!("{}\n{}\n{}", text.title, text.keywords.join("\n"), text.body);
            analysis::terms(&mut analyzer, &all).into_iter().collect()
        };
        let en = &article.en;
        let all_en = format!("{}\n{}\n{}", en.title, en.keywords.join("\n"), en.body);
        Entry {
            terms_zh: set(ZH, &article.zh),
            terms_en: set(EN, &article.en),
            words_en: correct::en_words(&all_en).collect(),
            facets: Facets::of_titles(&article.zh.title, &article.en.title),
            article,
        }
    }

    fn terms(&self, lang: Lang) -> &HashSet<String> {
        match lang {
            Lang::Zh => &self.terms_zh,
            Lang::En => &self.terms_en,
        }
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title_zh: Field,
    keywords_zh: Field,
    body_zh: Field,
    bigram_zh: Field,
    title_en: Field,
    keywords_en: Field,
    body_en: Field,
}

/// The knowledge base: the articles and their in-RAM search index.
pub struct KnowledgeBase {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    articles: RwLock<HashMap<String, Entry>>,
    /// English word → number of articles using it (plus the synonym table's words): the words
    /// a typo is corrected to. Rebuilt on every change of the articles.
    vocabulary: RwLock<HashMap<String, usize>>,
    rule: ConfidenceRule,
    /// The admins' synonym groups, applied after the built-in table.
    synonyms: RwLock<Vec<SynonymGroup>>,
    /// Told of every question [`KnowledgeBase::answer`] had no confident answer to.
    miss_recorder: RwLock<Option<MissRecorder>>,
}

/// What [`KnowledgeBase::record_misses`] calls with a question that got no confident answer and
/// its language. Called on the answering thread: it should only hand the question on.
pub type MissRecorder = Box<dyn Fn(&str, Lang) + Send + Sync>;

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase").field("articles", &self.len()).finish_non_exhaustive()
    }
}

fn text_options(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqs),
    )
}

impl KnowledgeBase {
    /// Indexes `articles` (validated; ids must be unique) with the default confidence rule.
    pub fn new(articles: Vec<Article>) -> Result<KnowledgeBase, Error> {
        let mut schema = Schema::builder();
        let fields = Fields {
            id: schema.add_text_field("id", STRING | STORED),
            title_zh: schema.add_text_field("title_zh", text_options(ZH)),
            keywords_zh: schema.add_text_field("keywords_zh", text_options(ZH)),
            body_zh: schema.add_text_field("body_zh", text_options(ZH)),
            bigram_zh: schema.add_text_field("bigram_zh", text_options(ZH_BIGRAM)),
            title_en: schema.add_text_field("title_en", text_options(EN)),
            keywords_en: schema.add_text_field("keywords_en", text_options(EN)),
            body_en: schema.add_text_field("body_en", text_options(EN)),
        };
        let index = Index::create_in_ram(schema.build());
        for (name, analyzer) in analysis::analyzers() {
            index.tokenizers().register(name, analyzer);
        }
        let mut writer: IndexWriter = index.writer_with_num_threads(1, WRITER_BUDGET)?;
        let mut map = HashMap::with_capacity(articles.len());
        for article in articles {
            article.validate()?;
            if map.contains_key(&article.id) {
                return Err(Error::DuplicateId(article.id));
            }
            writer.add_document(document(&fields, &article))?;
            map.insert(article.id.clone(), Entry::new(&index, article));
        }
        writer.commit()?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let vocabulary = RwLock::new(vocabulary(&map));
        Ok(KnowledgeBase {
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            articles: RwLock::new(map),
            vocabulary,
            rule: ConfidenceRule::default(),
            synonyms: RwLock::new(Vec::new()),
            miss_recorder: RwLock::new(None),
        })
    }

    /// The base with the articles shipped in `knowledge/content/` ([`crate::builtin_articles`]).
    pub fn builtin() -> Result<KnowledgeBase, Error> {
        KnowledgeBase::new(crate::builtin_articles())
    }

    /// Replaces the confidence rule.
    pub fn with_rule(mut self, rule: ConfidenceRule) -> KnowledgeBase {
        self.rule = rule;
        self
    }

    /// The confidence rule in use.
    pub fn rule(&self) -> ConfidenceRule {
        self.rule
    }

    /// How many articles the base holds.
    pub fn len(&self) -> usize {
        self.articles.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// True when the base holds no article.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The article with this id.
    pub fn get(&self, id: &str) -> Option<Article> {
        self.articles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .map(|e| e.article.clone())
    }

    /// Every article, sorted by id.
    pub fn articles(&self) -> Vec<Article> {
        let mut all: Vec<Article> = self
            .articles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|e| e.article.clone())
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Adds an article, or replaces the one with the same id, and re-indexes it; the next
    /// search sees it. Returns whether an article was replaced.
    pub fn upsert(&self, article: Article) -> Result<bool, Error> {
        article.validate()?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        writer.delete_term(Term::from_field_text(self.fields.id, &article.id));
        writer.add_document(document(&self.fields, &article))?;
        // The map is updated before the commit so that a hit always finds its article.
        let replaced = {
            let mut articles = self.articles.write().unwrap_or_else(PoisonError::into_inner);
            let replaced =
                articles.insert(article.id.clone(), Entry::new(&self.index, article)).is_some();
            *self.vocabulary.write().unwrap_or_else(PoisonError::into_inner) =
                vocabulary(&articles);
            replaced
        };
        writer.commit()?;
        self.reader.reload()?;
        Ok(replaced)
    }

    /// Removes an article and its index entries; the next search no longer finds it. Returns
    /// whether it existed.
    pub fn remove(&self, id: &str) -> Result<bool, Error> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        writer.delete_term(Term::from_field_text(self.fields.id, id));
        writer.commit()?;
        self.reader.reload()?;
        let mut articles = self.articles.write().unwrap_or_else(PoisonError::into_inner);
        let existed = articles.remove(id).is_some();
        *self.vocabulary.write().unwrap_or_else(PoisonError::into_inner) = vocabulary(&articles);
        Ok(existed)
    }

    /// The best `limit` articles for a question, best first, in `lang` (detected from the
    /// question when `None`). Empty when no term of the question occurs in any article.
    ///
    /// The question's slips on the domain's words are corrected first ([`correct`]); the BM25
    /// hits are then re-ranked by their [`Facets`] (what the question is about and wants).
    pub fn search(&self, question: &str, lang: Option<Lang>, limit: usize) -> Vec<Hit> {
        let lang = lang.unwrap_or_else(|| detect_lang(question));
        self.ranked(question, lang, limit).0
    }

    /// [`KnowledgeBase::search`], and the share of the question's terms that some article
    /// uses (0 when it has none).
    fn ranked(&self, question: &str, lang: Lang, limit: usize) -> (Vec<Hit>, f32) {
        let question = &match lang {
            Lang::Zh => correct::fix_zh(question),
            Lang::En => correct::fix_en(
                question,
                &self.vocabulary.read().unwrap_or_else(PoisonError::into_inner),
            ),
        };
        let wants = Facets::of(question, lang);
        let Some(query) = self.query(question, lang) else { return (Vec::new(), 0.0) };
        let own_terms: Vec<String> = match self.index.tokenizers().get(lang_analyzer(lang)) {
            Some(mut analyzer) => {
                let mut terms = analysis::terms(&mut analyzer, question);
                terms.sort();
                terms.dedup();
                terms
            }
            None => Vec::new(),
        };
        let articles = self.articles.read().unwrap_or_else(PoisonError::into_inner);
        // Words no article uses (place names, the citizen's background) count for less in
        // the coverage: they say little about which article answers.
        let weight: f32 = own_terms
            .iter()
            .map(|t| {
                if articles.values().any(|e| e.terms(lang).contains(t)) {
                    1.0
                } else {
                    UNKNOWN_TERM_WEIGHT
                }
            })
            .sum();
        let known = if own_terms.is_empty() {
            0.0
        } else {
            (weight - UNKNOWN_TERM_WEIGHT * own_terms.len() as f32)
                / ((1.0 - UNKNOWN_TERM_WEIGHT) * own_terms.len() as f32)
        };
        let searcher = self.reader.searcher();
        let depth = limit.max(RERANK_DEPTH);
        let Ok(top) = searcher.search(&query, &TopDocs::with_limit(depth).order_by_score()) else {
            return (Vec::new(), known);
        };
        let mut hits: Vec<Hit> = top
            .into_iter()
            .filter_map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address).ok()?;
                let id = doc.get_first(self.fields.id)?.as_str()?;
                let entry = articles.get(id)?;
                let article = &entry.article;
                let found = own_terms.iter().filter(|t| entry.terms(lang).contains(*t)).count();
                let coverage = found as f32 / weight.max(1.0);
                let text = article.localized(lang);
                Some(Hit {
                    article_id: article.id.clone(),
                    service_id: article.service_id.clone(),
                    lang,
                    title: text.title.clone(),
                    body: text.body.clone(),
                    score: score * wants.factor(&entry.facets),
                    coverage,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        (hits, known)
    }

    /// Replaces the admins' synonym groups (each [`SynonymGroup::normalized`]); the next
    /// question is expanded with them.
    pub fn set_synonyms(&self, groups: Vec<SynonymGroup>) {
        *self.synonyms.write().unwrap_or_else(PoisonError::into_inner) = groups;
    }

    /// Adds a synonym group, or replaces the one with its id; returns the replaced one.
    pub fn upsert_synonyms(&self, group: SynonymGroup) -> Option<SynonymGroup> {
        let mut groups = self.synonyms.write().unwrap_or_else(PoisonError::into_inner);
        let before = groups.iter().position(|g| g.id == group.id).map(|i| groups.remove(i));
        groups.push(group);
        before
    }

    /// Removes the synonym group with this id; returns it.
    pub fn remove_synonyms(&self, id: &str) -> Option<SynonymGroup> {
        let mut groups = self.synonyms.write().unwrap_or_else(PoisonError::into_inner);
        groups.iter().position(|g| g.id == id).map(|i| groups.remove(i))
    }

    /// The admins' synonym groups, by id.
    pub fn synonyms(&self) -> Vec<SynonymGroup> {
        let mut groups = self.synonyms.read().unwrap_or_else(PoisonError::into_inner).clone();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        groups
    }

    /// From now on, [`KnowledgeBase::answer`] calls `recorder` with every question it has no
    /// confident answer to ([`KnowledgeBase::preview_answer`] never does).
    pub fn record_misses(&self, recorder: MissRecorder) {
        *self.miss_recorder.write().unwrap_or_else(PoisonError::into_inner) = Some(recorder);
    }

    /// Answers a citizen's question in `lang` (detected when `None`): the best article when
    /// the confidence is high, suggestions otherwise. A question without a confident answer is
    /// handed to the recorder set by [`KnowledgeBase::record_misses`], if any.
    pub fn answer(&self, question: &str, lang: Option<Lang>) -> Answer {
        let answer = self.preview_answer(question, lang);
        if answer.confidence == Confidence::Low
            && let Some(record) =
                self.miss_recorder.read().unwrap_or_else(PoisonError::into_inner).as_ref()
        {
            record(question, answer.lang);
        }
        answer
    }

    /// [`KnowledgeBase::answer`] without recording a miss (an admin trying a question). Pure
    /// apart from reading the index.
    pub fn preview_answer(&self, question: &str, lang: Option<Lang>) -> Answer {
        let lang = lang.unwrap_or_else(|| detect_lang(question));
        let (mut hits, known) = self.ranked(question, lang, ANSWER_DEPTH);
        let elsewhere = scope::elsewhere(question, lang);
        let out_of_scope = elsewhere.is_some()
            || (lang == Lang::En && known < MIN_KNOWN_SHARE)
            || hits.first().is_none_or(|top| top.coverage < OUT_OF_SCOPE_COVERAGE);
        if out_of_scope {
            hits.truncate(3);
            return Answer {
                lang,
                best: None,
                suggestions: hits,
                confidence: Confidence::Low,
                close_call: false,
                out_of_scope,
                referral: Some(elsewhere.unwrap_or_else(|| scope::hotline(lang))),
            };
        }
        let confidence = self.rule.judge(&hits);
        match confidence {
            Confidence::High => {
                let best = hits.remove(0);
                hits.truncate(2);
                Answer {
                    lang,
                    best: Some(best),
                    suggestions: hits,
                    confidence,
                    close_call: false,
                    out_of_scope: false,
                    referral: None,
                }
            }
            Confidence::Low => {
                let close_call = self.rule.is_close_call(&hits);
                hits.truncate(3);
                Answer {
                    lang,
                    best: None,
                    suggestions: hits,
                    confidence,
                    close_call,
                    out_of_scope: false,
                    referral: None,
                }
            }
        }
    }

    /// The query for a question: every term of the question (weight 1) and of its synonyms
    /// (weight [`SYNONYM_WEIGHT`]) in the language's fields, each field with its boost, summed.
    fn query(&self, question: &str, lang: Lang) -> Option<BooleanQuery> {
        let f = self.fields;
        let expansions = {
            let extra = self.synonyms.read().unwrap_or_else(PoisonError::into_inner);
            synonyms::expand_with(question, lang, &extra)
        };
        let plans: Vec<(&str, Vec<(Field, f32)>)> = match lang {
            Lang::Zh => vec![
                (
                    ZH,
                    vec![
                        (f.title_zh, TITLE_BOOST),
                        (f.keywords_zh, KEYWORDS_BOOST),
                        (f.body_zh, BODY_BOOST),
                    ],
                ),
                (ZH_BIGRAM, vec![(f.bigram_zh, BIGRAM_BOOST)]),
            ],
            Lang::En => vec![(
                EN,
                vec![
                    (f.title_en, TITLE_BOOST),
                    (f.keywords_en, KEYWORDS_BOOST),
                    (f.body_en, BODY_BOOST),
                ],
            )],
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (analyzer_name, fields) in plans {
            let mut analyzer = self.index.tokenizers().get(analyzer_name)?;
            let mut weights: Vec<(String, f32)> = Vec::new();
            let mut add =
                |term: String, weight: f32| match weights.iter_mut().find(|(t, _)| *t == term) {
                    Some((_, w)) => *w = w.max(weight),
                    None => weights.push((term, weight)),
                };
            for term in analysis::terms(&mut analyzer, question) {
                add(term, 1.0);
            }
            for phrase in &expansions {
                for term in analysis::terms(&mut analyzer, phrase) {
                    add(term, SYNONYM_WEIGHT);
                }
            }
            for (term, weight) in weights {
                for &(field, boost) in &fields {
                    let query = TermQuery::new(
                        Term::from_field_text(field, &term),
                        IndexRecordOption::WithFreqs,
                    );
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(query), boost * weight)),
                    ));
                }
            }
        }
        (!clauses.is_empty()).then(|| BooleanQuery::new(clauses))
    }
}

fn lang_analyzer(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => ZH,
        Lang::En => EN,
    }
}

fn document(f: &Fields, article: &Article) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(f.id, &article.id);
    doc.add_text(f.title_zh, &article.zh.title);
    doc.add_text(f.keywords_zh, article.zh.keywords.join("，"));
    doc.add_text(f.body_zh, &article.zh.body);
    doc.add_text(
        f.bigram_zh,
        format!("{}\n{}\n{}", article.zh.title, article.zh.keywords.join("，"), article.zh.body),
    );
    doc.add_text(f.title_en, &article.en.title);
    doc.add_text(f.keywords_en, article.en.keywords.join(", "));
    doc.add_text(f.body_en, &article.en.body);
    doc
}

/// English word → number of articles using it, plus the words of the synonym table.
fn vocabulary(articles: &HashMap<String, Entry>) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    for entry in articles.values() {
        for word in &entry.words_en {
            *out.entry(word.clone()).or_default() += 1;
        }
    }
    for phrase in synonyms::EN_GROUPS.iter().flat_map(|g| g.iter()) {
        for word in correct::en_words(phrase) {
            out.entry(word).or_insert(1);
        }
    }
    out
}
