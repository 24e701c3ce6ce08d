//! Retrieval evaluation of the self-service assistant (see `docs/self-service.md`).
//!
//! Three question sets:
//! - `eval/heldout.toml` (issue 20): 391 questions written from the service catalogue before the
//!   articles were read; never tuned on. Its figures are the ones reported.
//! - `eval/tuning.toml`: written at the same time, kept apart; the one to look at when tuning.
//! - `eval/questions.toml`: the first set (written with the articles), kept as a regression set.
//!
//! `cargo test --workspace --test eval -- --nocapture` prints per language: top-1 and top-3,
//! the share answered directly (High), the precision of those answers, the out-of-scope questions
//! answered with High, the close calls, and every miss; each test asserts the targets reached.
use std::time::Instant;

use serde::Deserialize;
use voicedesk_knowledge::{Answer, Confidence, ConfidenceRule, KnowledgeBase, Lang, scope};

#[derive(Deserialize)]
struct File {
    question: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    lang: Lang,
    q: String,
    expect: Option<String>,
}

fn parse(text: &str) -> Vec<Question> {
    toml::from_str::<File>(text).expect("question file parses").question
}

/// The figures of one language (or of all) on one set.
#[derive(Default, Debug, Clone, Copy)]
struct Figures {
    in_scope: usize,
    top1: usize,
    top3: usize,
    high: usize,
    high_right: usize,
    close_calls: usize,
    out_of_scope: usize,
    oos_high: usize,
    oos_flagged: usize,
    /// Out-of-scope questions flagged by coverage alone (no referral cue).
    oos_by_coverage: usize,
    /// Out-of-scope questions the confidence rule alone (no referral table, no out-of-scope
    /// test) would have answered with High.
    oos_high_by_rule_alone: usize,
    /// In-scope questions wrongly flagged out of scope.
    in_scope_flagged: usize,
}

impl Figures {
    fn ratio(a: usize, b: usize) -> f64 {
        a as f64 / b.max(1) as f64
    }
    fn top1(&self) -> f64 {
        Self::ratio(self.top1, self.in_scope)
    }
    fn top3(&self) -> f64 {
        Self::ratio(self.top3, self.in_scope)
    }
    fn direct(&self) -> f64 {
        Self::ratio(self.high, self.in_scope)
    }
    fn precision(&self) -> f64 {
        Self::ratio(self.high_right, self.high)
    }
}

/// Runs every question through [`KnowledgeBase::answer`] and returns the figures per language.
fn evaluate(kb: &KnowledgeBase, name: &str, questions: &[Question]) -> [(Lang, Figures); 2] {
    let started = Instant::now();
    let answers: Vec<Answer> = questions.iter().map(|q| kb.answer(&q.q, Some(q.lang))).collect();
    let per_query = started.elapsed() / questions.len().max(1) as u32;
    println!("\n== {name}: {} questions, {:?} per answer (mean) ==", questions.len(), per_query);
    let mut out = [(Lang::Zh, Figures::default()), (Lang::En, Figures::default())];
    for (lang, f) in &mut out {
        for (q, a) in questions.iter().zip(&answers).filter(|(q, _)| q.lang == *lang) {
            let ranked: Vec<&str> = a.ranked().map(|h| h.article_id.as_str()).collect();
            let high = a.confidence == Confidence::High;
            match &q.expect {
                Some(id) => {
                    f.in_scope += 1;
                    let rank = ranked.iter().position(|r| r == id);
                    f.top1 += usize::from(rank == Some(0));
                    f.top3 += usize::from(rank.is_some_and(|r| r < 3));
                    f.close_calls += usize::from(a.close_call);
                    f.in_scope_flagged += usize::from(a.out_of_scope);
                    if high {
                        f.high += 1;
                        f.high_right += usize::from(rank == Some(0));
                    }
                    let tag = match (rank, high) {
                        (Some(0), true) => None,
                        (Some(0), false) if a.close_call => Some("first, close call"),
                        (Some(0), false) if a.out_of_scope => Some("first, but said out of scope"),
                        (Some(0), false) => Some("first, low"),
                        (_, true) => Some("WRONG HIGH"),
                        (_, false) => Some("not first"),
                    };
                    if let Some(tag) = tag {
                        println!(
                            "  [{}] {tag}: {} -> want {id} at {:?}; got {}",
                            lang.code(),
                            q.q,
                            rank.map(|r| r + 1),
                            ranked.iter().take(3).copied().collect::<Vec<_>>().join(", ")
                        );
                    }
                }
                None => {
                    f.out_of_scope += 1;
                    f.oos_high += usize::from(high);
                    f.oos_flagged += usize::from(a.out_of_scope);
                    let hits = kb.search(&q.q, Some(q.lang), 4);
                    f.oos_high_by_rule_alone +=
                        usize::from(kb.rule().judge(&hits) == Confidence::High);
                    f.oos_by_coverage +=
                        usize::from(a.out_of_scope && scope::elsewhere(&q.q, q.lang).is_none());
                    if high || !a.out_of_scope {
                        println!(
                            "  [{}] out of scope {}: {} -> {}",
                            lang.code(),
                            if high { "ANSWERED HIGH" } else { "not flagged" },
                            q.q,
                            ranked.first().copied().unwrap_or("-")
                        );
                    }
                }
            }
        }
        println!(
            "{name} [{}]: top-1 {}/{} = {:.3}, top-3 {}/{} = {:.3}, direct (High) {}/{} = {:.3}, precision {}/{} = {:.3}, close calls {}, in-scope said out of scope {}, out of scope High {}/{} (flagged {}, by coverage alone {}; High by the rule alone {})",
            lang.code(),
            f.top1,
            f.in_scope,
            f.top1(),
            f.top3,
            f.in_scope,
            f.top3(),
            f.high,
            f.in_scope,
            f.direct(),
            f.high_right,
            f.high,
            f.precision(),
            f.close_calls,
            f.in_scope_flagged,
            f.oos_high,
            f.out_of_scope,
            f.oos_flagged,
            f.oos_by_coverage,
            f.oos_high_by_rule_alone
        );
    }
    out
}

#[test]
fn eval_heldout() {
    let started = Instant::now();
    let kb = KnowledgeBase::builtin().unwrap();
    println!("articles: {}, index build: {:?}", kb.len(), started.elapsed());
    let questions = parse(include_str!("../eval/heldout.toml"));
    for q in &questions {
        if let Some(id) = &q.expect {
            assert!(kb.get(id).is_some(), "expected article {id} does not exist");
        }
    }
    assert!(questions.len() >= 300);
    assert!(questions.iter().filter(|q| q.lang == Lang::Zh).count() * 2 >= questions.len());
    let figures = evaluate(&kb, "held-out", &questions);
    // Latency: every question once more, per-answer p95.
    let mut times: Vec<_> = questions
        .iter()
        .map(|q| {
            let t = Instant::now();
            let _ = kb.answer(&q.q, Some(q.lang));
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "answer latency p50 {:?}, p95 {:?}",
        times[times.len() / 2],
        times[times.len() * 95 / 100]
    );
    // Floors just under the figures of docs/self-service.md, so that a change that makes the
    // assistant worse fails here; the targets (0.95 / 0.99 / 0.98 / 0.80) are not met yet.
    for (lang, f) in figures {
        assert!(f.top1() >= 0.87, "{lang:?}: top-1 {:.3}", f.top1());
        assert!(f.top3() >= 0.96, "{lang:?}: top-3 {:.3}", f.top3());
        assert!(f.precision() >= 0.95, "{lang:?}: precision {:.3}", f.precision());
        assert_eq!(f.oos_high, 0, "{lang:?}: out-of-scope questions answered with High");
    }
}

#[test]
fn eval_tuning() {
    let kb = KnowledgeBase::builtin().unwrap();
    let questions = parse(include_str!("../eval/tuning.toml"));
    let figures = evaluate(&kb, "tuning", &questions);
    if std::env::var_os("VOICEDESK_EVAL_GRID").is_some() {
        for min_coverage in [0.4, 0.5, 0.6] {
            for min_ratio in [1.1, 1.2, 1.3, 1.5] {
                let rule = ConfidenceRule { min_score: 1.0, min_ratio, min_coverage };
                let kb = KnowledgeBase::builtin().unwrap().with_rule(rule);
                let q: Vec<Question> = parse(include_str!("../eval/tuning.toml"));
                let f = evaluate(&kb, &format!("grid cov {min_coverage} ratio {min_ratio}"), &q);
                let (h, r, n) = f.iter().fold((0, 0, 0), |(h, r, n), (_, f)| {
                    (h + f.high, r + f.high_right, n + f.in_scope)
                });
                println!(
                    "GRID cov {min_coverage} ratio {min_ratio}: direct {h}/{n}, right {r}/{h}"
                );
            }
        }
    }
    for (lang, f) in figures {
        assert!(f.top3() >= 0.95, "{lang:?}: top-3 {:.3}", f.top3());
    }
}

#[test]
fn eval_first_set() {
    let kb = KnowledgeBase::builtin().unwrap();
    let questions = parse(include_str!("../eval/questions.toml"));
    let figures = evaluate(&kb, "first set", &questions);
    for (lang, f) in figures {
        assert!(f.top3() >= 0.90, "{lang:?}: top-3 {:.3}", f.top3());
    }
}
