//! Issue 20: understanding citizens — typos on the domain's words, near neighbours, questions
//! no article answers (said plainly, with a referral), and close calls (ask which one).
use std::collections::HashMap;
use std::sync::LazyLock;

use voicedesk_knowledge::{
    Answer, Article, Confidence, ConfidenceRule, Hit, KnowledgeBase, Lang, Localized,
    correct::{fix_en, fix_zh},
    scope::elsewhere,
};

static KB: LazyLock<KnowledgeBase> = LazyLock::new(|| KnowledgeBase::builtin().unwrap());

fn first(question: &str) -> String {
    KB.search(question, None, 3).first().map(|h| h.article_id.clone()).unwrap_or_default()
}

#[test]
fn a_typo_on_the_key_word_is_rescued() {
    // 报消 (a pinyin-input slip for 报销) with nothing else pointing the way.
    assert_eq!(first("医保报消"), "medical_reimbursement");
    // 设保卡 / Traditional 設保卡 for 社保卡.
    assert_eq!(first("設保卡丢了"), "social_security_card_loss");
    // Pinyin left unconverted.
    assert_eq!(first("shebaoka丢了怎么办"), "social_security_card_loss");
    // English: one letter off, a swap of neighbours.
    assert_eq!(first("check my pention amount"), "pension_benefit_inquiry");
    assert_eq!(first("lost my socail secuirty card"), "social_security_card_loss");
}

#[test]
fn an_article_added_live_teaches_its_words_to_the_spelling_correction() {
    let kb = KnowledgeBase::builtin().unwrap();
    assert!(kb.search("xylophonist lessons", Some(Lang::En), 3).is_empty());
    let article = Article {
        id: "faq_music".into(),
        service_id: None,
        zh: Localized {
            title: "音乐课".into(), body: "木琴老师。".into(), keywords: vec![]
        },
        en: Localized {
            title: "Music lessons".into(),
            body: "Ask the xylophonist.".into(),
            keywords: vec![],
        },
    };
    kb.upsert(article).unwrap();
    // "xylophonsit" is two edits from no word before the upsert, one swap from one after.
    let hits = kb.search("xylophonsit", Some(Lang::En), 3);
    assert_eq!(hits.first().map(|h| h.article_id.as_str()), Some("faq_music"));
    kb.remove("faq_music").unwrap();
    assert!(kb.search("xylophonsit", Some(Lang::En), 3).is_empty());
}

#[test]
fn the_inquiry_article_beats_the_claim_article_for_a_check_question() {
    assert_eq!(first("失业金还剩几个月"), "unemployment_benefit_inquiry");
    assert_eq!(first("生育津贴什么时候到账"), "maternity_benefit_inquiry");
    // And the claim article stays first for a claim question.
    assert_eq!(first("怎么申请失业保险金"), "unemployment_benefit_claim");
}

#[test]
fn another_insurance_is_not_put_first() {
    assert_eq!(
        first("I started working in Hangzhou, how do I move my medical insurance there"),
        "medical_insurance_transfer"
    );
    assert_eq!(first("离开上海了，上海交的养老怎么转走"), "pension_transfer");
}

#[test]
fn another_offices_question_is_out_of_scope_with_its_referral() {
    for (question, office, phone) in [
        ("护照过期了怎么续签", "出入境", Some("12367")),
        ("公积金怎么提取，要什么材料", "公积金", Some("12329")),
        ("where do I renew my car insurance", "insurance company", None),
    ] {
        let answer = KB.answer(question, None);
        assert!(answer.out_of_scope, "{question}");
        assert_eq!(answer.confidence, Confidence::Low, "{question}");
        assert!(answer.best.is_none() && !answer.close_call, "{question}");
        let referral = answer.referral.expect("a referral");
        assert!(referral.office.contains(office), "{question}: {referral:?}");
        assert_eq!(referral.phone.as_deref(), phone, "{question}");
    }
}

#[test]
fn a_question_of_unknown_words_gets_the_hotline_not_an_answer() {
    let answer = KB.answer("which restaurant has the best dumplings nearby", None);
    assert!(answer.out_of_scope);
    assert_eq!(answer.confidence, Confidence::Low);
    assert_eq!(answer.referral.unwrap().phone.as_deref(), Some("12345"));
}

#[test]
fn the_halls_own_words_keep_a_question_in_scope() {
    let answer = KB.answer("身份证号码登记错了一位，社保信息怎么改", None);
    assert!(!answer.out_of_scope);
    assert_eq!(answer.referral, None);
    assert_eq!(answer.ranked().next().unwrap().article_id, "personal_information_change");
}

fn hit(id: &str, score: f32, coverage: f32) -> Hit {
    Hit {
        article_id: id.into(),
        service_id: None,
        lang: Lang::En,
        title: id.into(),
        body: String::new(),
        score,
        coverage,
    }
}

#[test]
fn close_top_two_are_a_close_call() {
    let rule = ConfidenceRule { min_score: 1.0, min_ratio: 1.3, min_coverage: 0.4 };
    let close = [hit("a", 10.0, 0.8), hit("b", 9.0, 0.6)];
    assert_eq!(rule.judge(&close), Confidence::Low);
    assert!(rule.is_close_call(&close));
    // A clear winner is no close call, nor is a second hit that covers too little.
    assert!(!rule.is_close_call(&[hit("a", 20.0, 0.8), hit("b", 9.0, 0.6)]));
    assert!(!rule.is_close_call(&[hit("a", 10.0, 0.8), hit("b", 9.0, 0.2)]));
    assert!(!rule.is_close_call(&[hit("a", 10.0, 0.8)]));
}

#[test]
fn a_close_call_offers_the_two_to_choose_from() {
    let answer = KB.answer("update my address", Some(Lang::En));
    assert!(answer.close_call, "{answer:?}");
    assert_eq!(answer.confidence, Confidence::Low);
    let two: Vec<&str> = answer.ranked().take(2).map(|h| h.article_id.as_str()).collect();
    assert!(two.contains(&"personal_information_change"), "{two:?}");
    assert!(two.contains(&"employer_information_change"), "{two:?}");
}

#[test]
fn an_answer_serialized_before_issue_20_still_reads() {
    let old = r#"{"lang":"zh","best":null,"suggestions":[],"confidence":"low"}"#;
    let answer: Answer = serde_json::from_str(old).unwrap();
    assert!(!answer.close_call && !answer.out_of_scope && answer.referral.is_none());
}

// The correction and referral tables on their own.

#[test]
fn chinese_slips_become_the_domain_words() {
    assert_eq!(fix_zh("医保报消怎么弄"), "医保报销怎么弄");
    assert_eq!(fix_zh("設保卡丢了"), "社保卡丢了");
    assert_eq!(fix_zh("Shebao卡补办"), "社保卡补办");
    assert_eq!(fix_zh("社保卡丢了"), "社保卡丢了");
}

#[test]
fn english_typos_take_the_nearest_known_word() {
    let vocabulary: HashMap<String, usize> =
        [("pension", 9), ("social", 20), ("security", 12), ("unemployment", 6), ("passion", 1)]
            .into_iter()
            .map(|(w, n)| (w.to_owned(), n))
            .collect();
    assert_eq!(fix_en("check my pention!", &vocabulary), "check my pension!");
    assert_eq!(fix_en("lost my socail secuirty card", &vocabulary), "lost my social security card");
    assert_eq!(fix_en("unemployement", &vocabulary), "unemployment");
    // Unknown and far from every word: kept.
    assert_eq!(fix_en("passport renewal", &vocabulary), "passport renewal");
    let vocabulary: HashMap<String, usize> = [("password".to_owned(), 3)].into();
    assert_eq!(fix_en("passport", &vocabulary), "passport");
}

#[test]
fn another_offices_subject_is_referred() {
    let r = elsewhere("护照过期了怎么续签", Lang::Zh).unwrap();
    assert!(r.office.contains("出入境"));
    assert_eq!(elsewhere("where do I renew my car insurance", Lang::En).unwrap().phone, None);
    assert_eq!(elsewhere("公积金怎么提取", Lang::Zh).unwrap().phone.as_deref(), Some("12329"));
}

#[test]
fn the_halls_own_words_override_another_offices_word() {
    assert_eq!(elsewhere("身份证号码登记错了一位，社保信息怎么改", Lang::Zh), None);
    assert_eq!(elsewhere("社保卡丢了怎么办", Lang::Zh), None);
    assert_eq!(elsewhere("school asks for a contribution certificate", Lang::En), None);
}
