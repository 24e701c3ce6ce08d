//! The synonym table: the words citizens actually use, grouped with the words the articles use.
//!
//! Applied at query time only (the index holds the articles' own words), so editing the table
//! needs no re-indexing. When any phrase of a group occurs in the question, every other phrase of
//! the group is added to the query with a lower weight ([`SYNONYM_WEIGHT`]), so that the
//! citizen's own word still counts most.
//!
//! Matching: Chinese phrases match as substrings (no segmentation needed, so 退休金 matches in
//! 我的退休金呢 whatever jieba does with it); English phrases match whole words of the lower-cased
//! question (so "card" does not match "cardiology").
use serde::{Deserialize, Serialize};

use crate::Lang;

/// A synonym group an admin wrote (kept in the store): applied like the built-in groups, after
/// them. English phrases are kept lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynonymGroup {
    /// Stable snake_case id (1..=64 characters of `a-z`, `0-9`, `_`, starting with a letter).
    pub id: String,
    /// The language of the phrases.
    pub lang: Lang,
    /// 2..=20 phrases, each 1..=40 characters, each once.
    pub phrases: Vec<String>,
}

impl SynonymGroup {
    /// The group with its phrases trimmed (and lower-cased for English), or what is wrong with
    /// it, naming the field: `id` or `phrases`.
    pub fn normalized(mut self) -> Result<SynonymGroup, (&'static str, String)> {
        let id_ok = (1..=64).contains(&self.id.len())
            && self.id.starts_with(|c: char| c.is_ascii_lowercase())
            && self.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            let message = "1 to 64 characters of a-z, 0-9 and _, starting with a letter";
            return Err(("id", format!("id {:?}: {message}", self.id)));
        }
        let mut phrases: Vec<String> = Vec::with_capacity(self.phrases.len());
        for phrase in &self.phrases {
            let phrase = match self.lang {
                Lang::Zh => phrase.trim().to_owned(),
                Lang::En => phrase.trim().to_lowercase(),
            };
            if phrase.is_empty() || phrase.chars().count() > 40 {
                return Err(("phrases", format!("{phrase:?}: a phrase of 1 to 40 characters")));
            }
            if phrases.contains(&phrase) {
                return Err(("phrases", format!("{phrase:?} is listed twice")));
            }
            phrases.push(phrase);
        }
        if !(2..=20).contains(&phrases.len()) {
            return Err(("phrases", "a group has 2 to 20 phrases".to_owned()));
        }
        self.phrases = phrases;
        Ok(self)
    }
}

/// The weight of a term that only a synonym brought into the query (the question's own terms
/// weigh 1).
pub const SYNONYM_WEIGHT: f32 = 0.6;

/// Chinese synonym groups.
pub const ZH_GROUPS: &[&[&str]] = &[
    &["养老金", "退休金", "退休工资", "养老保险待遇", "养老钱"],
    &["社保卡", "社会保障卡"],
    &["医保", "医疗保险"],
    &["医保卡", "社保卡"],
    &["报销", "报账", "报钱", "能报", "去报", "报一部分", "报回来"],
    &["异地", "外地", "跨省", "外省", "老家", "过冬", "长住", "常住"],
    &[
        "转移",
        "转关系",
        "转过来",
        "转过去",
        "转出",
        "转入",
        "接续",
        "弄到",
        "弄过来",
        "带走",
        "带过去",
    ],
    &["失业金", "失业保险金", "失业补助", "失业费"],
    &["生孩子", "生育", "生小孩", "分娩", "生娃"],
    &["工伤", "上班受伤", "工作受伤", "干活受伤", "受伤"],
    &["丢了", "丢失", "挂失", "掉了", "不见了", "弄丢"],
    &["辞退", "失业", "下岗", "开除", "裁员", "被炒", "没活干", "倒闭", "没工作"],
    &["自由职业", "灵活就业", "个体户", "打零工"],
    &["几点", "上班时间", "工作时间", "营业时间"],
    &["放假", "节假日", "过年", "春节"],
    &["留言", "留个言", "留个话"],
    &["人工", "人工客服", "真人", "工作人员"],
    &["登不上", "登录", "登陆"],
    &["证明", "缴费证明", "参保证明"],
    &["断缴", "断交", "没交", "停缴", "断了"],
    &["孩子", "小孩", "新生儿", "宝宝", "儿童", "娃"],
    &["余额", "还剩多少"],
    &["交", "缴", "缴费"],
    &["补贴", "补助"],
    &["评残", "伤残等级", "残疾等级", "伤残鉴定"],
    &["认证", "生存认证", "资格认证", "年审"],
    &["改名", "改名字", "变更"],
    &["基数", "缴费基数", "工资基数"],
    &["公司", "单位", "企业"],
    &["员工", "职工"],
    &["预约", "约个时间", "约时间"],
    &["带啥", "带什么", "材料", "证件"],
    &["在哪看", "怎么看", "查询", "查", "进度"],
    // Added for issue 20 from the tuning set's misses.
    &["投诉", "不满意", "态度差", "态度不好", "反映", "评价", "意见", "差评", "上次", "上回"],
    &["网上服务厅", "网上大厅", "网上办事大厅", "网厅", "网上办事"],
    &["不会用", "不会操作", "操作"],
    &["什么时候有人", "有人吗", "几点", "上班时间"],
    &["赔偿", "待遇", "赔钱"],
    &["雇了", "雇人", "招了人", "新公司", "刚开的", "新成立"],
    &["直接刷", "直接结算", "直接报"],
    &["要交几年", "交满", "交够", "最低缴费年限", "至少交"],
];

/// English synonym groups (lower case).
pub const EN_GROUPS: &[&[&str]] = &[
    &["pension", "retirement money", "retirement pay", "old age pension"],
    &["social security card", "ss card", "insurance card"],
    &["medical insurance", "health insurance", "medical cover"],
    &[
        "reimbursement",
        "reimburse",
        "claim back",
        "money back",
        "refund",
        "get that back",
        "get it back",
    ],
    &[
        "another region",
        "another province",
        "another city",
        "other city",
        "out of town",
        "elsewhere",
    ],
    &[
        "transfer",
        "move over",
        "carry over",
        "move my",
        "come with me",
        "take with me",
        "bring over",
    ],
    &[
        "unemployment benefit",
        "unemployment money",
        "unemployment payments",
        "jobless benefit",
        "dole",
    ],
    &["maternity", "baby", "childbirth", "gave birth", "had a baby", "pregnant"],
    &["work injury", "hurt at work", "injured at work", "accident at work", "got hurt", "injured"],
    &["lost card", "lost my card", "card lost", "stolen card", "lost my social security card"],
    &[
        "fired",
        "lost my job",
        "laid off",
        "dismissed",
        "sacked",
        "unemployed",
        "no work",
        "closed down",
    ],
    &[
        "self employed",
        "self-employed",
        "freelancer",
        "flexible worker",
        "gig",
        "ride app",
        "delivery rider",
    ],
    &["open", "opening hours", "business hours", "what time", "office hours"],
    &["holiday", "spring festival", "national day", "chinese new year"],
    &["message", "voicemail", "voice message"],
    &["agent", "real person", "human", "operator", "someone"],
    &["proof", "certificate"],
    &["kid", "child", "newborn", "son", "daughter"],
    &["company", "employer", "firm"],
    &["staff", "employee", "employees", "worker"],
    &["owe", "owes", "arrears", "behind"],
    &["disability level", "disability grade"],
    &["yearly check", "annual check", "proof of life", "eligibility"],
    &["log in", "login", "sign in"],
    &["salary base", "wage base", "contribution base"],
    &["slot", "appointment", "booking"],
    &["papers", "documents"],
    &["records", "record"],
    &["check", "see", "inquiry", "paid yet", "been paid", "status"],
    // Added for issue 20 from the tuning set's misses.
    &[
        "complain",
        "complaint",
        "feedback",
        "terrible",
        "rude",
        "unhappy",
        "dissatisfied",
        "last time",
        "suggestion",
    ],
    &["no job", "no employer", "never worked", "never had a job", "without a job"],
    &["compensation", "benefits", "payout"],
    &["hired", "new company", "opened a", "set up a company", "start a business"],
    &["directly", "settled directly", "direct settlement"],
    &["sign up", "register", "registration"],
    &["minimum years", "how many years must", "15 years", "fifteen years"],
];

/// The phrases the synonym table adds to `question` (those of every group one of whose phrases
/// occurs in it, minus the phrases already in it), in table order, without duplicates.
pub fn expand(question: &str, lang: Lang) -> Vec<&'static str> {
    let (groups, haystack) = match lang {
        Lang::Zh => (ZH_GROUPS, question.to_lowercase()),
        Lang::En => (EN_GROUPS, words(question)),
    };
    let occurs = |phrase: &str| match lang {
        Lang::Zh => haystack.contains(phrase),
        Lang::En => haystack.contains(&format!(" {phrase} ")),
    };
    let mut added: Vec<&'static str> = Vec::new();
    for group in groups {
        if group.iter().any(|p| occurs(p)) {
            for phrase in group.iter().filter(|p| !occurs(p)) {
                if !added.contains(phrase) {
                    added.push(phrase);
                }
            }
        }
    }
    added
}

/// [`expand`], then the phrases of the admins' groups in `extra` (those of `lang`) by the same
/// rule, without duplicates.
pub fn expand_with(question: &str, lang: Lang, extra: &[SynonymGroup]) -> Vec<String> {
    let mut added: Vec<String> = expand(question, lang).into_iter().map(str::to_owned).collect();
    let haystack = match lang {
        Lang::Zh => question.to_lowercase(),
        Lang::En => words(question),
    };
    let occurs = |phrase: &str| match lang {
        Lang::Zh => haystack.contains(phrase),
        Lang::En => haystack.contains(&format!(" {phrase} ")),
    };
    for group in extra.iter().filter(|g| g.lang == lang) {
        if group.phrases.iter().any(|p| occurs(p)) {
            for phrase in group.phrases.iter().filter(|p| !occurs(p)) {
                if !added.contains(phrase) {
                    added.push(phrase.clone());
                }
            }
        }
    }
    added
}

/// The question lower-cased, with every run of characters other than letters, digits, `-` and
/// `'` turned into one space, and a space at both ends (for whole-word matching).
pub(crate) fn words(question: &str) -> String {
    let mut out = String::from(" ");
    for c in question.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '-' || c == '\'' {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}
