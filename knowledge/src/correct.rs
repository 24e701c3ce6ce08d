//! Spelling, homophone and pinyin tolerance for the words of the domain, applied to a question
//! before it is searched.
//!
//! - Chinese: a table of the slips citizens make on the hall's key words — homophones typed by
//!   a pinyin input method (报消 for 报销, 设保 for 社保, 失叶 for 失业), Traditional forms
//!   (設保), and pinyin left unconverted (shebao, yibao, wangting). Replaced as substrings.
//! - English: a word that occurs in no article and is one edit (two for long words) away from a
//!   word that does is replaced by it ("pention" → "pension", "socail" → "social").
//!
//! Both are pure; [`KnowledgeBase`](crate::KnowledgeBase) keeps the English vocabulary.
use std::collections::HashMap;

/// (what citizens type, the domain word meant). Longer entries first where one contains another.
pub const ZH_FIXES: &[(&str, &str)] = &[
    // Homophones and near-homophones from pinyin input.
    ("报消", "报销"),
    ("报帐", "报账"),
    ("設保", "社保"),
    ("设保", "社保"),
    ("社宝", "社保"),
    ("社报", "社保"),
    ("医宝", "医保"),
    ("医报", "医保"),
    ("失叶", "失业"),
    ("公伤", "工伤"),
    ("攻伤", "工伤"),
    ("金贴", "津贴"),
    ("津帖", "津贴"),
    ("认正", "认证"),
    ("平证", "凭证"),
    ("到帐", "到账"),
    ("交费", "缴费"),
    ("养老惊", "养老金"),
    ("退修", "退休"),
    ("生肓", "生育"),
    ("挂矢", "挂失"),
    ("补半", "补办"),
    ("登陆", "登录"),
    ("备按", "备案"),
    ("鉴订", "鉴定"),
    // Pinyin typed without choosing the characters.
    ("shebaoka", "社保卡"),
    ("shebao", "社保"),
    ("yibaoka", "医保卡"),
    ("yibao", "医保"),
    ("yanglaojin", "养老金"),
    ("yanglao", "养老"),
    ("tuixiujin", "退休金"),
    ("tuixiu", "退休"),
    ("shiyejin", "失业金"),
    ("shiye", "失业"),
    ("gongshang", "工伤"),
    ("shengyu", "生育"),
    ("baoxiao", "报销"),
    ("wangting", "网上服务厅"),
    ("网厅", "网上服务厅"),
];

/// A Chinese question with the slips of [`ZH_FIXES`] corrected (case-insensitive for pinyin).
pub fn fix_zh(question: &str) -> String {
    let mut out = question.to_lowercase();
    for (slip, word) in ZH_FIXES {
        if out.contains(slip) {
            out = out.replace(slip, word);
        }
    }
    out
}

/// The edit distance between two ASCII words, counting a swap of neighbours as one edit
/// (optimal string alignment), or `None` once it exceeds `max`. `rows` is scratch space.
fn distance(a: &[u8], b: &[u8], max: usize, rows: &mut Vec<usize>) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    rows.clear();
    rows.resize((n + 1) * width, 0);
    for j in 0..=m {
        rows[j] = j;
    }
    for i in 1..=n {
        rows[i * width] = i;
        let mut best = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[(i - 1) * width + j] + 1)
                .min(rows[i * width + j - 1] + 1)
                .min(rows[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[(i - 2) * width + j - 2] + 1);
            }
            rows[i * width + j] = d;
            best = best.min(d);
        }
        if best > max {
            return None;
        }
    }
    let d = rows[n * width + m];
    (d <= max).then_some(d)
}

/// The English words of a text (lower case, letters only), for the vocabulary.
pub(crate) fn en_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| w.len() >= 3).map(str::to_lowercase)
}

/// An English question with each word of five letters or more that is not in `vocabulary`
/// (word → number of articles using it) replaced by the closest word that is: one edit away,
/// or two for words of nine letters or more; ties go to the more common word, and the first
/// letter must agree. Other characters are kept as they are.
pub fn fix_en(question: &str, vocabulary: &HashMap<String, usize>) -> String {
    let mut out = String::with_capacity(question.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            out.push_str(&correct_word(word, vocabulary).unwrap_or_else(|| word.clone()));
            word.clear();
        }
    };
    for c in question.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn correct_word(word: &str, vocabulary: &HashMap<String, usize>) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    if lower.len() < 5 || vocabulary.contains_key(&lower) {
        return None;
    }
    let max = if lower.len() >= 9 { 2 } else { 1 };
    let word = lower.as_bytes();
    let mut rows = Vec::new();
    let mut best: Option<(usize, usize, &str)> = None;
    for (candidate, &count) in vocabulary {
        let other = candidate.as_bytes();
        if other.len() < 4 || other[0] != word[0] || other.len().abs_diff(word.len()) > max {
            continue;
        }
        if let Some(d) = distance(word, other, max, &mut rows) {
            let better = match best {
                None => true,
                Some((bd, bc, bw)) => {
                    d < bd || (d == bd && (count > bc || (count == bc && candidate.as_str() < bw)))
                }
            };
            if better {
                best = Some((d, count, candidate));
            }
        }
    }
    best.map(|(_, _, w)| w.to_owned())
}
