//! Unit-level behaviour of the public API: Chinese segmentation, synonyms, language detection,
//! live upsert/remove, loading and validation, the answer's shape.
use std::sync::LazyLock;

use voicedesk_knowledge::{
    Article, Confidence, ConfidenceRule, Error, KnowledgeBase, Lang, Localized, SynonymGroup,
    analyze, builtin_articles, detect_lang, load_dir, synonyms,
};

static KB: LazyLock<KnowledgeBase> = LazyLock::new(|| KnowledgeBase::builtin().unwrap());

fn top(question: &str) -> String {
    KB.search(question, None, 3).first().map(|h| h.article_id.clone()).unwrap_or_default()
}

fn article(id: &str, zh_title: &str, en_title: &str) -> Article {
    Article {
        id: id.into(),
        service_id: None,
        zh: Localized { title: zh_title.into(), body: "正文。".into(), keywords: vec![] },
        en: Localized { title: en_title.into(), body: "Body.".into(), keywords: vec![] },
    }
}

#[test]
fn chinese_is_segmented_into_words() {
    let terms = analyze("vd_zh", "异地就医备案怎么办");
    assert!(terms.contains(&"异地就医".to_string()), "{terms:?}");
    assert!(terms.contains(&"备案".to_string()), "{terms:?}");
    // Question words are dropped.
    assert!(!terms.contains(&"怎么办".to_string()), "{terms:?}");
    // Search mode also yields the sub-words of a long word.
    let terms = analyze("vd_zh", "社会保障卡");
    assert!(terms.contains(&"社会保障卡".to_string()) && terms.contains(&"保障".to_string()));
}

#[test]
fn chinese_question_finds_the_out_of_area_registration() {
    assert_eq!(top("异地就医备案怎么办"), "medical_out_of_area_registration");
    let answer = KB.answer("异地就医备案怎么办", None);
    assert_eq!(answer.lang, Lang::Zh);
    assert_eq!(answer.confidence, Confidence::High);
    let best = answer.best.unwrap();
    assert_eq!(best.service_id.as_deref(), Some("medical_out_of_area_registration"));
    assert!(best.body.contains("1. "), "the steps come in the asked language: {}", best.body);
}

#[test]
fn bigrams_cover_chinese_text() {
    assert_eq!(analyze("vd_zh_bigram", "社保卡 ok 医"), vec!["社保", "保卡", "医"]);
}

#[test]
fn english_is_stemmed_and_stop_words_dropped() {
    let terms = analyze("vd_en", "How do I claim my reimbursements?");
    assert_eq!(terms, vec!["claim", "reimburs"]);
}

#[test]
fn language_is_detected_from_cjk_characters() {
    assert_eq!(detect_lang("社保卡丢了"), Lang::Zh);
    assert_eq!(detect_lang("我的App登不上"), Lang::Zh);
    assert_eq!(detect_lang("I lost my card"), Lang::En);
    assert_eq!(detect_lang(""), Lang::En);
    // The detected language is the answer's.
    assert_eq!(KB.answer("lost my social security card", None).lang, Lang::En);
    let hit = KB.search("社保卡丢了", None, 1).remove(0);
    assert_eq!((hit.lang, hit.article_id.as_str()), (Lang::Zh, "social_security_card_loss"));
    assert!(hit.title.contains("社保卡"));
}

#[test]
fn synonym_table_expands_citizens_words() {
    let added = synonyms::expand("我的退休金怎么还没到", Lang::Zh);
    assert!(added.contains(&"养老金"), "{added:?}");
    assert!(!added.contains(&"退休金"), "the question's own word is not added again");
    let added = synonyms::expand("Where is my retirement money?", Lang::En);
    assert!(added.contains(&"pension"), "{added:?}");
    // English matches whole words only.
    assert!(synonyms::expand("cardiology", Lang::En).is_empty());
}

#[test]
fn a_word_only_the_synonym_table_knows_still_finds_the_article() {
    // 报账 is in no article's text: only the synonym table links it to 报销.
    let articles = builtin_articles();
    assert!(!articles.iter().any(|a| format!("{:?}", a.zh).contains("报钱")));
    assert_eq!(top("看病的钱怎么报钱"), "medical_reimbursement");
    // "dole" appears nowhere; its group holds "unemployment benefit".
    assert_eq!(top("how do I get the dole"), "unemployment_benefit_claim");
}

#[test]
fn upsert_and_remove_show_at_once() {
    let kb = KnowledgeBase::new(builtin_articles()).unwrap();
    let n = kb.len();
    assert!(kb.search("熊猫基地门票", Some(Lang::Zh), 3).is_empty());

    let mut panda = article("faq_panda", "熊猫基地门票怎么买", "Buying panda base tickets");
    assert!(!kb.upsert(panda.clone()).unwrap(), "new article");
    assert_eq!(kb.len(), n + 1);
    assert_eq!(kb.search("熊猫基地门票", Some(Lang::Zh), 3)[0].article_id, "faq_panda");
    assert_eq!(kb.search("panda tickets", None, 3)[0].article_id, "faq_panda");

    // An edit replaces the old text in the index: the old title no longer matches.
    panda.en.title = "Zoo opening hours".into();
    assert!(kb.upsert(panda).unwrap(), "replaced");
    assert_eq!(kb.len(), n + 1);
    assert!(kb.search("panda tickets", None, 3).iter().all(|h| h.article_id != "faq_panda"));
    assert_eq!(kb.search("zoo", None, 3)[0].article_id, "faq_panda");

    // Editing a shipped article: the new words are found at once.
    let mut card = kb.get("social_security_card_loss").unwrap();
    card.en.keywords.push("wallet stolen on the bus".into());
    kb.upsert(card).unwrap();
    assert_eq!(
        kb.search("wallet stolen on the bus", None, 1)[0].article_id,
        "social_security_card_loss"
    );

    assert!(kb.remove("faq_panda").unwrap());
    assert!(!kb.remove("faq_panda").unwrap(), "already gone");
    assert_eq!(kb.len(), n);
    assert!(kb.search("zoo", None, 3).iter().all(|h| h.article_id != "faq_panda"));
    assert!(kb.get("faq_panda").is_none());
}

#[test]
fn invalid_articles_are_refused() {
    let kb = KnowledgeBase::new(vec![]).unwrap();
    assert!(kb.is_empty());
    let bad_id = article("Not A Key", "标题", "Title");
    assert!(matches!(kb.upsert(bad_id), Err(Error::InvalidArticle { .. })));
    let mut empty_body = article("ok_id", "标题", "Title");
    empty_body.en.body = "  ".into();
    assert!(matches!(kb.upsert(empty_body), Err(Error::InvalidArticle { .. })));
    let twice = vec![article("a", "甲", "A"), article("a", "乙", "B")];
    assert!(matches!(KnowledgeBase::new(twice), Err(Error::DuplicateId(_))));
    assert!(matches!(Article::from_toml("id = 1"), Err(Error::Parse { .. })));
}

#[test]
fn content_directory_matches_the_embedded_articles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
    let loaded = load_dir(&dir).unwrap();
    assert_eq!(loaded, builtin_articles());
    assert!(loaded.len() >= 50, "{} articles", loaded.len());
    // Articles are plain serde structs: JSON (the admin API, the database) round-trips.
    let json = serde_json::to_string(&loaded[0]).unwrap();
    assert_eq!(serde_json::from_str::<Article>(&json).unwrap(), loaded[0]);
}

#[test]
fn every_catalogue_service_has_an_article() {
    let sql = include_str!("../../migrations/sqlite/0003_catalogue.sql");
    let services = sql.split("INSERT INTO services").nth(1).unwrap().split(';').next().unwrap();
    let ids: Vec<&str> = services
        .lines()
        .filter_map(|l| l.trim().strip_prefix("('"))
        .filter_map(|l| l.split('\'').next())
        .collect();
    assert_eq!(ids.len(), 40);
    let articles = builtin_articles();
    for id in ids {
        assert!(
            articles.iter().any(|a| a.service_id.as_deref() == Some(id)),
            "no article for service {id}"
        );
    }
}

#[test]
fn answer_shape_follows_the_confidence() {
    let high = KB.answer("社保卡丢了怎么补办", Some(Lang::Zh));
    assert_eq!(high.confidence, Confidence::High);
    assert_eq!(high.best.as_ref().unwrap().article_id, "social_security_card_loss");
    assert!(high.suggestions.len() <= 2);

    let nothing = KB.answer("what's the best pizza near me", None);
    assert_eq!(nothing.confidence, Confidence::Low);
    assert!(nothing.best.is_none() && nothing.suggestions.is_empty());

    // A strict rule turns the same question into suggestions.
    let strict = KnowledgeBase::builtin().unwrap().with_rule(ConfidenceRule {
        min_score: 1e9,
        min_ratio: 1.0,
        min_coverage: 0.0,
    });
    let low = strict.answer("社保卡丢了怎么补办", None);
    assert_eq!(low.confidence, Confidence::Low);
    assert!(low.best.is_none());
    assert_eq!(low.suggestions[0].article_id, "social_security_card_loss");
    assert!(low.suggestions.len() <= 3);
}

#[test]
fn empty_questions_have_no_answer() {
    for q in ["", "   ", "？？", "吗"] {
        let answer = KB.answer(q, None);
        assert!(answer.best.is_none() && answer.suggestions.is_empty(), "{q:?}");
    }
}

#[test]
fn an_admins_synonym_group_applies_to_the_next_question() {
    let kb = KnowledgeBase::builtin().unwrap();
    assert!(kb.search("zorblax", Some(Lang::En), 3).is_empty(), "no article knows the word");
    let group = SynonymGroup {
        id: "card_slang".into(),
        lang: Lang::En,
        phrases: vec![" Zorblax ".into(), "social security card".into()],
    }
    .normalized()
    .unwrap();
    assert_eq!(group.phrases[0], "zorblax", "trimmed and lower-cased");
    kb.set_synonyms(vec![group.clone()]);
    let hits = kb.search("zorblax", Some(Lang::En), 3);
    assert!(!hits.is_empty());
    assert!(hits[0].title.to_lowercase().contains("card"), "{:?}", hits[0].title);
    // Chinese questions are not expanded by an English group.
    assert_eq!(
        synonyms::expand_with("zorblax", Lang::Zh, std::slice::from_ref(&group)),
        Vec::<String>::new()
    );
    assert_eq!(kb.synonyms(), vec![group]);
    kb.set_synonyms(Vec::new());
    assert!(kb.search("zorblax", Some(Lang::En), 3).is_empty(), "removed at once");
}

#[test]
fn a_bad_synonym_group_names_the_field() {
    let group = |id: &str, phrases: &[&str]| SynonymGroup {
        id: id.into(),
        lang: Lang::Zh,
        phrases: phrases.iter().map(|p| (*p).to_owned()).collect(),
    };
    assert_eq!(group("Bad Id", &["a", "b"]).normalized().unwrap_err().0, "id");
    assert_eq!(group("ok", &["养老金"]).normalized().unwrap_err().0, "phrases");
    assert_eq!(group("ok", &["养老金", " 养老金 "]).normalized().unwrap_err().0, "phrases");
    assert_eq!(group("ok", &["养老金", " "]).normalized().unwrap_err().0, "phrases");
    assert!(group("ok", &["养老金", "养老钱"]).normalized().is_ok());
}

#[test]
fn questions_without_a_confident_answer_are_recorded_and_previews_are_not() {
    use std::sync::{Arc, Mutex};
    let kb = KnowledgeBase::builtin().unwrap();
    let seen: Arc<Mutex<Vec<(String, Lang)>>> = Arc::default();
    let sink = seen.clone();
    kb.record_misses(Box::new(move |q, lang| sink.lock().unwrap().push((q.to_owned(), lang))));

    assert_eq!(kb.answer("异地就医备案怎么办", None).confidence, Confidence::High);
    let miss = "flimflam quux wibble";
    assert_eq!(kb.preview_answer(miss, None).confidence, Confidence::Low);
    assert!(seen.lock().unwrap().is_empty(), "a confident answer and a preview record nothing");
    assert_eq!(kb.answer(miss, None).confidence, Confidence::Low);
    assert_eq!(*seen.lock().unwrap(), vec![(miss.to_owned(), Lang::En)]);
}
