//! Retrieval evaluation on the held-out questions of `eval/questions.toml`.
//!
//! `cargo test -p voicedesk-knowledge eval -- --nocapture` prints top-1 / top-3 accuracy per
//! language, the misses, the confidence rule's coverage and precision, the index build time
//! and the query latency; it asserts top-3 >= 0.90 overall.
use std::time::Instant;

use serde::Deserialize;
use voicedesk_knowledge::{Confidence, ConfidenceRule, Hit, KnowledgeBase, Lang};

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

fn questions() -> Vec<Question> {
    let text = include_str!("../eval/questions.toml");
    toml::from_str::<File>(text).expect("eval/questions.toml parses").question
}

struct Outcome<'a> {
    question: &'a Question,
    hits: Vec<Hit>,
    rank: Option<usize>,
}

#[test]
fn eval_retrieval_accuracy() {
    let questions = questions();
    let started = Instant::now();
    let kb = KnowledgeBase::builtin().unwrap();
    let build = started.elapsed();
    // The first query pays for nothing the others do not (the dictionary loaded at build).
    for q in &questions {
        if let Some(id) = &q.expect {
            assert!(kb.get(id).is_some(), "expected article {id} does not exist");
        }
    }

    let started = Instant::now();
    let outcomes: Vec<Outcome> = questions
        .iter()
        .map(|question| {
            let hits = kb.search(&question.q, Some(question.lang), 5);
            let rank = question
                .expect
                .as_ref()
                .and_then(|id| hits.iter().position(|h| &h.article_id == id));
            Outcome { question, hits, rank }
        })
        .collect();
    let per_query = started.elapsed() / questions.len() as u32;

    println!("\n== knowledge base retrieval evaluation ==");
    println!("articles: {}, index build (incl. jieba dictionary): {:?}", kb.len(), build);
    println!(
        "search latency: {:.0} µs per query (mean over {})",
        per_query.as_micros(),
        questions.len()
    );
    let mut total = (0, 0, 0);
    for lang in [Lang::Zh, Lang::En] {
        let scoped: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.question.lang == lang && o.question.expect.is_some())
            .collect();
        let top1 = scoped.iter().filter(|o| o.rank == Some(0)).count();
        let top3 = scoped.iter().filter(|o| o.rank.is_some_and(|r| r < 3)).count();
        println!(
            "{}: {} questions, top-1 {}/{} = {:.3}, top-3 {}/{} = {:.3}",
            lang.code(),
            scoped.len(),
            top1,
            scoped.len(),
            top1 as f64 / scoped.len() as f64,
            top3,
            scoped.len(),
            top3 as f64 / scoped.len() as f64
        );
        total = (total.0 + scoped.len(), total.1 + top1, total.2 + top3);
    }
    let (n, top1, top3) = total;
    let (top1, top3) = (top1 as f64 / n as f64, top3 as f64 / n as f64);
    println!("all: {n} questions, top-1 {top1:.3}, top-3 {top3:.3}");

    println!("-- not first:");
    for o in outcomes.iter().filter(|o| o.question.expect.is_some() && o.rank != Some(0)) {
        let got: Vec<String> =
            o.hits.iter().take(3).map(|h| format!("{} {:.1}", h.article_id, h.score)).collect();
        println!(
            "  [{}] {} -> expected {} at {:?}; got {}",
            o.question.lang.code(),
            o.question.q,
            o.question.expect.as_deref().unwrap_or("-"),
            o.rank.map(|r| r + 1),
            got.join(", ")
        );
    }

    // The confidence rule: coverage (in-scope questions answered with High), precision (of
    // those, the share whose best hit is right) and false High on out-of-scope questions.
    let report = |rule: ConfidenceRule| {
        let mut high = 0;
        let mut high_right = 0;
        let mut in_scope = 0;
        let mut oos_high = 0;
        let mut oos = 0;
        for o in &outcomes {
            let confident = rule.judge(&o.hits) == Confidence::High;
            if o.question.expect.is_some() {
                in_scope += 1;
                if confident {
                    high += 1;
                    high_right += usize::from(o.rank == Some(0));
                }
            } else {
                oos += 1;
                oos_high += usize::from(confident);
            }
        }
        (high, high_right, in_scope, oos_high, oos)
    };
    let rule = kb.rule();
    let (high, right, in_scope, oos_high, oos) = report(rule);
    println!(
        "confidence rule {rule:?}: High on {high}/{in_scope} in-scope ({:.3}), precision {right}/{high} ({:.3}); High on {oos_high}/{oos} out-of-scope",
        high as f64 / in_scope as f64,
        right as f64 / high.max(1) as f64
    );
    println!(
        "-- rule grid (min_coverage, then per min_ratio: share High, precision, out-of-scope High):"
    );
    for min_coverage in [0.0, 0.3, 0.4, 0.5, 0.6, 0.7] {
        let row: Vec<String> = [1.0, 1.1, 1.2, 1.3, 1.5]
            .into_iter()
            .map(|min_ratio| {
                let rule = ConfidenceRule { min_score: 0.0, min_ratio, min_coverage };
                let (h, r, n, oh, _) = report(rule);
                format!(
                    "{min_ratio}: {:.2}/{:.2}/{oh}",
                    h as f64 / n as f64,
                    r as f64 / h.max(1) as f64
                )
            })
            .collect();
        println!("  {min_coverage:>4}: {}", row.join("  "));
    }
    println!("-- scores of out-of-scope questions:");
    for o in outcomes.iter().filter(|o| o.question.expect.is_none()) {
        let got: Vec<String> = o
            .hits
            .iter()
            .take(2)
            .map(|h| format!("{} {:.1} cov {:.2}", h.article_id, h.score, h.coverage))
            .collect();
        println!("  {} -> {}", o.question.q, got.join(", "));
    }

    // Live update cost: re-index one article (delete + add + commit + reader reload).
    let article = kb.get("pension_transfer").unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        kb.upsert(article.clone()).unwrap();
    }
    println!(
        "upsert (re-index one article, visible to the next search): {:?} each",
        started.elapsed() / 10
    );

    assert!(n >= 60, "the evaluation set must hold at least 60 questions");
    assert!(top3 >= 0.90, "top-3 accuracy {top3:.3} is below 0.90");
}
