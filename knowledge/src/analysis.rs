//! Text analysis: how Chinese and English text is cut into index terms, the same way for the
//! articles and for the questions.
//!
//! - Chinese (`zh`): jieba word segmentation in search mode (a long word also yields its
//!   dictionary sub-words: 社会保障卡 → 社会, 保障, 社会保障卡 …), with the hall's own words added
//!   to the dictionary, lower-cased, punctuation and question particles dropped.
//! - Chinese character bigrams (`zh_bigram`): overlapping pairs of CJK characters. A low-weight
//!   safety net for words jieba cuts differently in a question and in an article, and for some
//!   typos.
//! - English (`en`): tantivy's simple tokenizer, lower-cased, English stop words plus question
//!   words dropped, Snowball English stemmer (claims → claim, reimbursed → reimburs).
use std::sync::{Arc, LazyLock};

use jieba_rs::Jieba;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    Token, TokenStream, Tokenizer,
};

/// Tokenizer names registered on the index.
pub(crate) const ZH: &str = "vd_zh";
pub(crate) const ZH_BIGRAM: &str = "vd_zh_bigram";
pub(crate) const EN: &str = "vd_en";

/// Words of the hall that jieba's default dictionary does not keep whole (or cuts badly), so
/// that a question and an article agree on them. Frequencies are high enough to win over the
/// default segmentation.
const HALL_WORDS: &[&str] = &[
    "社保",
    "社保卡",
    "医保",
    "医保卡",
    "社会保障卡",
    "养老金",
    "退休金",
    "养老保险",
    "医疗保险",
    "失业金",
    "失业保险",
    "失业保险金",
    "工伤",
    "工伤保险",
    "工伤认定",
    "生育保险",
    "生育津贴",
    "异地就医",
    "备案",
    "报销",
    "报账",
    "缴费",
    "缴费基数",
    "缴费年限",
    "缴费证明",
    "参保",
    "参保登记",
    "灵活就业",
    "挂失",
    "补办",
    "补卡",
    "转移接续",
    "转人工",
    "人工客服",
    "留言",
    "产检",
    "断缴",
    "补缴",
    "增员",
    "减员",
    "电子凭证",
    "医保电子凭证",
    "劳动能力鉴定",
    "伤残等级",
    "资格认证",
    "生存认证",
    "个人账户",
    "权益记录",
    "城乡居民",
    "转入地",
    "转出地",
    "工作日",
    "办事指南",
    "网上服务厅",
    "查询密码",
    "留言编号",
];

/// Question particles and function words that say nothing about the topic.
const ZH_STOP: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "啊",
    "吧",
    "呀",
    "嘛",
    "哦",
    "么",
    "我",
    "我们",
    "你",
    "你们",
    "您",
    "他",
    "她",
    "它",
    "怎么",
    "怎么办",
    "怎样",
    "如何",
    "什么",
    "啥",
    "咋",
    "哪",
    "哪里",
    "哪儿",
    "在哪",
    "是",
    "不是",
    "要",
    "能",
    "能不能",
    "可以",
    "一下",
    "一个",
    "个",
    "有",
    "和",
    "还",
    "就",
    "都",
    "也",
    "请问",
    "想",
    "这",
    "那",
    "这个",
    "那个",
    "去",
    "在",
    "给",
    "把",
    "被",
    "让",
    "吧",
    "得",
    "着",
    "过",
    "会",
    "又",
    "很",
    "到底",
    "是不是",
    "现在",
    "以前",
    "已经",
];

/// English words that only shape the question (tantivy's list has the articles and
/// prepositions; these are the pronouns and question words citizens add).
const EN_STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "i", "i'm", "im", "me", "my", "mine", "you",
    "your", "we", "our", "us", "he", "she", "his", "her", "how", "what", "where", "when", "which",
    "who", "why", "can", "could", "do", "does", "did", "should", "would", "please", "hi", "hello",
    "there", "some", "any", "just", "so", "about", "from", "am", "have", "has", "had", "been", "s",
    "t", "don", "didn", "can't", "cant", "need", "want", "tell",
];

static JIEBA: LazyLock<Arc<Jieba>> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    for word in HALL_WORDS {
        jieba.add_word(word, Some(100_000), None);
    }
    Arc::new(jieba)
});

/// The shared jieba instance (default dictionary plus [`HALL_WORDS`]). Built once, on first
/// use (about 0.2 s: the dictionary is parsed).
pub(crate) fn jieba() -> Arc<Jieba> {
    Arc::clone(&JIEBA)
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// True when the text holds at least one CJK ideograph.
pub(crate) fn has_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// A token stream over tokens computed up front (jieba returns a vector anyway).
pub(crate) struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// jieba search-mode segmentation, dropping punctuation, spaces and Chinese stop words.
#[derive(Clone)]
pub(crate) struct JiebaTokenizer {
    jieba: Arc<Jieba>,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let tokens = self
            .jieba
            .cut_for_search(text, true)
            .into_iter()
            .filter(|w| w.word.chars().any(char::is_alphanumeric) && !ZH_STOP.contains(&w.word))
            .enumerate()
            .map(|(position, w)| Token {
                offset_from: w.byte_start,
                offset_to: w.byte_end,
                position,
                text: w.word.to_string(),
                position_length: 1,
            })
            .collect();
        VecTokenStream { tokens, next: 0 }
    }
}

/// Overlapping CJK character pairs; a lone CJK character between non-CJK text is kept alone.
#[derive(Clone, Default)]
pub(crate) struct CjkBigramTokenizer;

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        let mut run: Vec<(usize, char)> = Vec::new();
        let flush = |run: &mut Vec<(usize, char)>, tokens: &mut Vec<Token>| {
            let pairs: Vec<_> = if run.len() == 1 {
                vec![(run[0], run[0])]
            } else {
                run.windows(2).map(|w| (w[0], w[1])).collect()
            };
            for ((start, a), (end, b)) in pairs {
                let text = if start == end { a.to_string() } else { format!("{a}{b}") };
                let position = tokens.len();
                tokens.push(Token {
                    offset_from: start,
                    offset_to: end + b.len_utf8(),
                    position,
                    text,
                    position_length: 1,
                });
            }
            run.clear();
        };
        for (i, c) in text.char_indices() {
            if is_cjk(c) {
                run.push((i, c));
            } else if !run.is_empty() {
                flush(&mut run, &mut tokens);
            }
        }
        if !run.is_empty() {
            flush(&mut run, &mut tokens);
        }
        VecTokenStream { tokens, next: 0 }
    }
}

/// The three analyzers, by tokenizer name.
pub(crate) fn analyzers() -> [(&'static str, TextAnalyzer); 3] {
    let zh = TextAnalyzer::builder(JiebaTokenizer { jieba: jieba() }).filter(LowerCaser).build();
    let bigram = TextAnalyzer::builder(CjkBigramTokenizer).build();
    let en = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(EN_STOP.iter().map(|w| w.to_string())))
        .filter(Stemmer::new(Language::English))
        .build();
    [(ZH, zh), (ZH_BIGRAM, bigram), (EN, en)]
}

/// The terms an analyzer makes of a text, in order (duplicates kept).
pub(crate) fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

/// The terms of `text` under the analyzer `name` (one of [`ZH`], [`ZH_BIGRAM`], [`EN`]).
/// For tests and for explaining a search.
pub fn analyze(name: &str, text: &str) -> Vec<String> {
    let mut analyzer = analyzers()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("unknown analyzer {name}"));
    terms(&mut analyzer, text)
}
