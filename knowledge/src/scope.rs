//! Out-of-scope questions: matters of other offices (passports, the housing fund, taxes,
//! driving licences, private insurance …) that share generic words with the articles (材料,
//! 去哪办, company, insurance) and must never get a confident answer. The assistant says it
//! cannot answer, names the office or hotline where known, and offers a human.
use serde::{Deserialize, Serialize};

use crate::Lang;

/// Where to go with a question the knowledge base does not answer, in the question's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The office or service that handles it ("住房公积金管理中心", "the tax office").
    pub office: String,
    /// Its public hotline, when there is one nationwide ("12329").
    pub phone: Option<String>,
}

/// A subject of another office: its cues (Chinese substrings; English whole words or phrases)
/// and where to go.
struct Elsewhere {
    zh: &'static [&'static str],
    en: &'static [&'static str],
    office_zh: &'static str,
    office_en: &'static str,
    phone: Option<&'static str>,
}

const ELSEWHERE: &[Elsewhere] = &[
    Elsewhere {
        zh: &["护照", "签证", "出入境", "通行证"],
        en: &["passport", "visa", "immigration"],
        office_zh: "公安机关出入境管理部门",
        office_en: "the exit-entry administration of the public security bureau",
        phone: Some("12367"),
    },
    Elsewhere {
        zh: &["公积金"],
        en: &["provident fund", "housing fund"],
        office_zh: "住房公积金管理中心",
        office_en: "the housing provident fund centre",
        phone: Some("12329"),
    },
    Elsewhere {
        zh: &["个税", "所得税", "退税", "纳税", "报税"],
        en: &["tax", "taxes"],
        office_zh: "税务部门",
        office_en: "the tax office",
        phone: Some("12366"),
    },
    Elsewhere {
        zh: &["驾驶证", "驾照", "违章", "行驶证", "上牌", "罚单"],
        en: &["driving licence", "driving license", "traffic fine", "scooter", "number plate"],
        office_zh: "公安交通管理部门",
        office_en: "the traffic police (vehicle and driver administration)",
        phone: Some("12123"),
    },
    Elsewhere {
        zh: &["车险", "商业保险", "重疾险", "理赔", "保险公司", "意外险"],
        en: &["car insurance", "commercial", "critical illness", "insurance company", "pet"],
        office_zh: "您投保的商业保险公司",
        office_en: "the insurance company that sold the policy",
        phone: None,
    },
    Elsewhere {
        zh: &["身份证丢", "身份证掉", "身份证补办", "户口", "居住证", "户籍"],
        en: &["id card", "identity card", "residence permit", "household registration", "hukou"],
        office_zh: "户籍所在地派出所",
        office_en: "your local police station (household registration)",
        phone: None,
    },
    Elsewhere {
        zh: &["拖欠工资", "欠薪", "不发工资", "工资被拖"],
        en: &["wages", "unpaid salary"],
        office_zh: "劳动保障监察机构",
        office_en: "the labour inspection office",
        phone: Some("12333"),
    },
    Elsewhere {
        zh: &["营业执照"],
        en: &["business licence", "business license"],
        office_zh: "市场监督管理部门",
        office_en: "the market regulation administration",
        phone: Some("12315"),
    },
    Elsewhere {
        zh: &["银行卡"],
        en: &["bank card", "credit card"],
        office_zh: "发卡银行",
        office_en: "your bank",
        phone: None,
    },
    Elsewhere {
        zh: &["结婚", "离婚"],
        en: &["marriage", "marry", "divorce"],
        office_zh: "民政部门婚姻登记处",
        office_en: "the civil affairs marriage registry",
        phone: None,
    },
    Elsewhere {
        zh: &["上小学", "小学", "入园"],
        en: &["primary school", "kindergarten"],
        office_zh: "当地教育部门",
        office_en: "the local education bureau",
        phone: None,
    },
    Elsewhere {
        zh: &["房东", "押金", "天气", "手机丢", "出租车"],
        en: &["landlord", "deposit", "weather", "taxi"],
        office_zh: "政务服务便民热线",
        office_en: "the government service hotline",
        phone: Some("12345"),
    },
];

/// Words that put a question in the hall's domain even when it names another office's subject
/// ("身份证号码登记错了，社保信息怎么改").
const ANCHORS_ZH: &[&str] =
    &["社保", "养老", "医保", "医疗保险", "失业", "工伤", "生育", "参保", "缴费", "退休"];
const ANCHORS_EN: &[&str] = &[
    "social insurance",
    "social security",
    "pension",
    "medical insurance",
    "unemployment",
    "work injury",
    "maternity",
    "contribution",
    "contributions",
];

/// Where a question about another office's subject should go, or `None` when the question
/// names none (or also names the hall's own domain).
pub fn elsewhere(question: &str, lang: Lang) -> Option<Referral> {
    let lower = question.to_lowercase();
    let words = crate::synonyms::words(&lower);
    let has = |cue: &str| match lang {
        Lang::Zh => lower.contains(cue),
        Lang::En => words.contains(&format!(" {cue} ")),
    };
    let anchors = match lang {
        Lang::Zh => ANCHORS_ZH,
        Lang::En => ANCHORS_EN,
    };
    if anchors.iter().any(|a| has(a)) {
        return None;
    }
    let found = ELSEWHERE.iter().find(|e| {
        let cues = match lang {
            Lang::Zh => e.zh,
            Lang::En => e.en,
        };
        cues.iter().any(|c| has(c))
    })?;
    Some(referral(found, lang))
}

/// The referral when no article answers and no other office is known: the government service
/// hotline.
pub fn hotline(lang: Lang) -> Referral {
    referral(ELSEWHERE.last().expect("the table ends with the hotline"), lang)
}

fn referral(e: &Elsewhere, lang: Lang) -> Referral {
    Referral {
        office: match lang {
            Lang::Zh => e.office_zh,
            Lang::En => e.office_en,
        }
        .to_owned(),
        phone: e.phone.map(str::to_owned),
    }
}
