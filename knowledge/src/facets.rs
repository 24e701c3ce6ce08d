//! Facets: what a question is about (the insurance: pension, medical …) and what the citizen
//! wants to do with it (check, transfer, change, claim …), read from cue words. An article's
//! facets are read from its two titles, so an article added by an admin gets them too.
//!
//! They separate the near neighbours that share most words — a pension claim and a pension
//! inquiry, a pension transfer and a medical-insurance transfer, an employer registration and an
//! employer information change — where BM25 alone puts the right article second: the search
//! re-ranks its first hits by [`Facets::factor`].
use crate::Lang;

/// One facet: its cue words in Chinese (substrings) and in English (whole words or phrases of
/// the lower-cased text; a cue ending in `*` matches any word starting with it).
struct Facet {
    zh: &'static [&'static str],
    en: &'static [&'static str],
}

/// The insurances and the hall's subjects. A question about one of them is moved away from
/// articles about others only.
const TOPICS: &[Facet] = &[
    // Pension.
    Facet { zh: &["养老", "退休"], en: &["pension*", "retire*"] },
    // Medical.
    Facet {
        zh: &["医保", "医疗", "看病", "就医", "住院", "医药费"],
        en: &["medical", "health", "hospital", "treatment"],
    },
    // Unemployment.
    Facet { zh: &["失业"], en: &["unemploy*", "dole", "jobless", "laid off"] },
    // Work injury.
    Facet {
        zh: &["工伤", "劳动能力", "伤残", "评残"],
        en: &["work injury", "work-injury", "injured", "work capacity", "disability"],
    },
    // Maternity.
    Facet {
        zh: &["生育", "产检", "分娩", "生孩子", "产假"],
        en: &["maternity", "prenatal", "childbirth", "gave birth", "delivery"],
    },
    // The employer's own business.
    Facet { zh: &["单位", "公司", "企业"], en: &["employer*", "company", "companies"] },
    // The citizen's own details.
    Facet {
        zh: &["个人", "我的", "电话号码", "手机号", "名字", "身份证号"],
        en: &["personal", "my name", "phone number", "id number"],
    },
];

/// What the citizen wants to do. An article whose title has the same intent is moved up.
const INTENTS: &[Facet] = &[
    // Check, see, follow.
    Facet {
        zh: &[
            "查",
            "多少钱",
            "发了多少",
            "打了多少",
            "有多少",
            "到账",
            "什么时候到",
            "发了",
            "还剩",
            "余额",
            "几个月",
            "进度",
            "明细",
            "记录",
            "在哪看",
            "多久",
        ],
        en: &[
            "check*",
            "see",
            "how much",
            "paid yet",
            "been paid",
            "balance",
            "arrive*",
            "history",
            "record*",
            "status",
            "track",
            "follow",
            "how long",
        ],
    },
    // Transfer to another region.
    Facet {
        zh: &["转移", "转到", "转过", "转回", "转走", "转出", "转入", "接续", "怎么转", "转去"],
        en: &["transfer*", "move", "moving", "moved", "carry", "bring", "over"],
    },
    // Change recorded details.
    Facet {
        zh: &["改", "变更", "变了", "换了", "搬"],
        en: &["change*", "update*", "fix", "wrong", "moved offices", "new legal"],
    },
    // Claim or apply for a benefit.
    Facet {
        zh: &["申领", "申请", "怎么领", "领取", "领多少"],
        en: &["claim", "apply", "application", "start receiving"],
    },
    // How long it takes.
    Facet { zh: &["多久", "几天", "多长时间"], en: &["how long", "take", "takes"] },
    // Pay.
    Facet { zh: &["缴纳", "缴费", "怎么交", "交费"], en: &["pay", "paying", "payment*"] },
    // Get money back for costs paid.
    Facet {
        zh: &["报销", "报账", "报钱", "垫付"],
        en: &["reimburs*", "claim back", "claiming back", "money back", "receipts"],
    },
];

/// The weight of a matching intent (multiplies the BM25 score once per shared intent).
pub(crate) const INTENT_BONUS: f32 = 1.4;
/// The weight of an article whose title wants something else than the question (both name an
/// intent, none is shared): a claim article for "has it been paid yet".
pub(crate) const INTENT_MISS: f32 = 0.8;
/// The weight of an article about other insurances than the question's.
pub(crate) const TOPIC_MISS: f32 = 0.7;

/// The topics and intents found in a text, as bit sets over [`TOPICS`] and [`INTENTS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facets {
    topics: u32,
    intents: u32,
}

impl Facets {
    /// The facets of a text in one language.
    pub(crate) fn of(text: &str, lang: Lang) -> Facets {
        let lower = text.to_lowercase();
        let words = crate::synonyms::words(&lower);
        let hit = |facet: &Facet| match lang {
            Lang::Zh => facet.zh.iter().any(|cue| lower.contains(cue)),
            Lang::En => facet.en.iter().any(|cue| match cue.strip_suffix('*') {
                Some(stem) => words.contains(&format!(" {stem}")),
                None => words.contains(&format!(" {cue} ")),
            }),
        };
        let bits = |facets: &[Facet]| {
            facets.iter().enumerate().filter(|(_, f)| hit(f)).fold(0u32, |acc, (i, _)| acc | 1 << i)
        };
        Facets { topics: bits(TOPICS), intents: bits(INTENTS) }
    }

    /// The facets of an article: those of its Chinese title and of its English title.
    pub(crate) fn of_titles(zh: &str, en: &str) -> Facets {
        let (a, b) = (Facets::of(zh, Lang::Zh), Facets::of(en, Lang::En));
        Facets { topics: a.topics | b.topics, intents: a.intents | b.intents }
    }

    /// How much an article with facets `article` is worth for a question with these facets:
    /// [`INTENT_BONUS`] per shared intent or [`INTENT_MISS`] when both name intents and none is
    /// shared, times [`TOPIC_MISS`] when both name insurances and none is shared.
    pub(crate) fn factor(&self, article: &Facets) -> f32 {
        let shared = (self.intents & article.intents).count_ones();
        let mut factor = INTENT_BONUS.powi(shared as i32);
        if shared == 0 && self.intents != 0 && article.intents != 0 {
            factor *= INTENT_MISS;
        }
        if self.topics != 0 && article.topics != 0 && self.topics & article.topics == 0 {
            factor *= TOPIC_MISS;
        }
        factor
    }
}
