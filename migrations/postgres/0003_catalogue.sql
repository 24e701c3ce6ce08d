-- voicedesk store, change 0003 (Postgres): the hall's catalogue (areas, skills = queues, services),
-- agents' skills, the holiday calendar, away reasons, call dispositions and wrap-ups; calls gain a
-- skill, a priority and a transfer count. Keep in step with migrations/sqlite/0003_catalogue.sql:
-- the same tables, columns, constraints, indexes and seed rows.
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
-- Flags are `INTEGER` 0/1 with a CHECK on both backends (one column type, one query text).
-- Ids and codes are stable snake_case keys: the application stores and sends them, and shows the
-- `name_zh` / `name_en` labels.

-- The five areas of the virtual service hall. Fixed: the hall's layout knows them.
CREATE TABLE hall_areas (
    id      TEXT    PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    name_zh TEXT    NOT NULL CHECK (name_zh <> ''),
    name_en TEXT    NOT NULL CHECK (name_en <> ''),
    sort    INTEGER NOT NULL DEFAULT 0
);

INSERT INTO hall_areas (id, name_zh, name_en, sort) VALUES
    ('guidance',      '导办服务区',     'Guidance area',               10),
    ('counter',       '柜台办理区',     'Counter service area',        20),
    ('self_service',  '自助查询服务区', 'Self-service inquiry area',   30),
    ('announcements', '信息公告区',     'Information announcements',   40),
    ('rest',          '休息区',         'Rest area',                   50);

-- Skills are the queues: a call waits in the queue of its service's skill and is offered to the
-- agents who have that skill. `hours` is a weekly-hours string (`mon-fri 09:00-12:00,13:00-17:00`,
-- `always`, `never`); the store keeps it as text, the signaling layer parses and validates it.
-- `max_waiting` caps the calls waiting in the queue, `max_wait_secs` how long one may wait;
-- NULL means no cap. `updated_at_ms` is when an admin last changed the row (0: as seeded).
CREATE TABLE skills (
    id            TEXT    PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    name_zh       TEXT    NOT NULL CHECK (name_zh <> ''),
    name_en       TEXT    NOT NULL CHECK (name_en <> ''),
    hours         TEXT    NOT NULL CHECK (hours <> ''),
    max_waiting   INTEGER NULL CHECK (max_waiting > 0),
    max_wait_secs INTEGER NULL CHECK (max_wait_secs > 0),
    sort          INTEGER NOT NULL DEFAULT 0,
    updated_at_ms BIGINT  NOT NULL DEFAULT 0
);

INSERT INTO skills (id, name_zh, name_en, hours, max_waiting, max_wait_secs, sort) VALUES
    ('pension',      '养老保险',     'Pension insurance',         'mon-fri 09:00-12:00,13:00-17:00', 30, 1800, 10),
    ('medical',      '医疗保险',     'Medical insurance',         'mon-fri 09:00-12:00,13:00-17:00', 30, 1800, 20),
    ('unemployment', '失业保险',     'Unemployment insurance',    'mon-fri 09:00-12:00,13:00-17:00', 20, 1800, 30),
    ('work_injury',  '工伤保险',     'Work-injury insurance',     'mon-fri 09:00-12:00,13:00-17:00', 20, 1800, 40),
    ('maternity',    '生育保险',     'Maternity insurance',       'mon-fri 09:00-12:00,13:00-17:00', 20, 1800, 50),
    ('employer',     '单位业务',     'Employer services',         'mon-fri 09:00-12:00,13:00-17:00', 20, 1800, 60),
    ('transfer',     '社保关系转移', 'Social insurance transfer', 'mon-fri 09:00-12:00,13:00-17:00', 20, 1800, 70),
    ('general',      '综合咨询',     'General enquiries',         'mon-fri 08:30-17:30; sat 09:00-12:00', 50, 1800, 80);

-- What a citizen can pick in the hall. A call for a service queues for the service's skill with
-- the service's priority (0..9, higher is served first). `kind` is what the citizen does:
-- inquiry, application, modification, payment, (unit) declaration, (relationship) transfer.
-- A disabled service is kept (calls and reports name it) but not offered.
CREATE TABLE services (
    id             TEXT    PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    area           TEXT    NOT NULL REFERENCES hall_areas (id),
    skill_id       TEXT    NOT NULL REFERENCES skills (id),
    kind           TEXT    NOT NULL CHECK (kind IN
        ('inquiry', 'application', 'modification', 'payment', 'declaration', 'transfer', 'other')),
    name_zh        TEXT    NOT NULL CHECK (name_zh <> ''),
    name_en        TEXT    NOT NULL CHECK (name_en <> ''),
    description_zh TEXT    NOT NULL DEFAULT '',
    description_en TEXT    NOT NULL DEFAULT '',
    priority       INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9),
    sort           INTEGER NOT NULL DEFAULT 0,
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);

-- Deleting a skill looks up the services still routed to it; the hall lists an area's services.
CREATE INDEX services_skill_id ON services (skill_id);
CREATE INDEX services_area ON services (area);

INSERT INTO services
    (id, area, skill_id, kind, name_zh, name_en, description_zh, description_en, priority, sort)
VALUES
    -- Guidance area
    ('service_guide', 'guidance', 'general', 'inquiry',
     '办事指南与材料咨询', 'Service guide and required documents',
     '了解各项社保业务怎么办、需要带哪些材料。',
     'Find out how each social insurance service works and which documents to bring.', 0, 10),
    ('online_hall_help', 'guidance', 'general', 'other',
     '网上服务厅使用帮助', 'Help with the online service hall',
     '在网上服务厅里找不到业务入口或操作遇到问题时，我们帮您一步步完成。',
     'Stuck somewhere in the online hall? We walk you through it step by step.', 0, 20),
    ('appointment_booking', 'guidance', 'general', 'other',
     '线上预约办理', 'Book an appointment',
     '预约到实体大厅办理需要现场核验的业务。',
     'Book a visit to the physical hall for services that need an in-person check.', 0, 30),
    -- Counter service area: pension
    ('resident_pension_enrolment', 'counter', 'pension', 'application',
     '城乡居民养老保险参保登记', 'Residents'' pension insurance enrolment',
     '未参加职工养老保险的城乡居民办理养老保险参保登记。',
     'Enrol in the urban and rural residents'' pension scheme if you have no employee pension.', 0, 100),
    ('resident_pension_payment', 'counter', 'pension', 'payment',
     '城乡居民养老保险缴费', 'Residents'' pension contribution payment',
     '选择缴费档次并缴纳城乡居民养老保险费。',
     'Choose a contribution level and pay your residents'' pension contributions.', 0, 110),
    ('flexible_employment_payment', 'counter', 'pension', 'payment',
     '灵活就业人员缴费', 'Contributions for flexible workers',
     '个体工商户和灵活就业人员办理社保缴费。',
     'Self-employed and flexible workers pay their social insurance contributions.', 0, 120),
    ('pension_claim', 'counter', 'pension', 'application',
     '退休养老金申领', 'Retirement pension claim',
     '达到退休年龄时申请按月领取基本养老金。',
     'Apply for your monthly basic pension when you reach retirement age.', 1, 130),
    ('pension_eligibility_certification', 'counter', 'pension', 'application',
     '养老金领取资格认证', 'Pension eligibility certification',
     '领取养老金的人员每年完成一次领取资格认证，确保养老金按时发放。',
     'Pensioners confirm their eligibility once a year so that payments continue on time.', 1, 140),
    -- Counter service area: medical
    ('resident_medical_enrolment', 'counter', 'medical', 'application',
     '城乡居民医疗保险参保登记', 'Residents'' medical insurance enrolment',
     '城乡居民、学生和儿童办理基本医疗保险参保登记。',
     'Residents, students and children enrol in basic medical insurance.', 0, 200),
    ('resident_medical_payment', 'counter', 'medical', 'payment',
     '城乡居民医疗保险缴费', 'Residents'' medical insurance payment',
     '缴纳下一年度的城乡居民医疗保险费。',
     'Pay next year''s residents'' medical insurance contribution.', 0, 210),
    ('medical_out_of_area_registration', 'counter', 'medical', 'application',
     '异地就医备案', 'Registration for medical care in another region',
     '到外地长期居住或转诊就医前办理备案，就医时可直接结算。',
     'Register before living or being treated in another region so bills are settled directly.', 2, 220),
    ('medical_reimbursement', 'counter', 'medical', 'application',
     '医疗费用报销', 'Medical expense reimbursement',
     '未能直接结算的医疗费用，提交票据申请报销。',
     'Claim back medical costs that were not settled directly by submitting your receipts.', 0, 230),
    -- Counter service area: unemployment
    ('unemployment_registration', 'counter', 'unemployment', 'application',
     '失业登记', 'Unemployment registration',
     '失业后办理失业登记，享受就业服务和相关待遇。',
     'Register as unemployed to receive employment services and related benefits.', 0, 300),
    ('unemployment_benefit_claim', 'counter', 'unemployment', 'application',
     '失业保险金申领', 'Unemployment benefit claim',
     '符合条件的失业人员申请按月领取失业保险金。',
     'Eligible unemployed people apply for monthly unemployment benefit.', 1, 310),
    ('skills_upgrade_subsidy', 'counter', 'unemployment', 'application',
     '技能提升补贴申领', 'Skills upgrading subsidy claim',
     '取得职业资格或技能等级证书的参保职工申请技能提升补贴。',
     'Insured employees who earn a vocational certificate claim the skills upgrading subsidy.', 0, 320),
    -- Counter service area: work injury
    ('work_injury_recognition', 'counter', 'work_injury', 'application',
     '工伤认定申请', 'Work-injury recognition application',
     '因工作受伤或患职业病后申请工伤认定，请在规定期限内提出。',
     'Apply for recognition of an injury or occupational disease at work, within the deadline.', 3, 400),
    ('work_capacity_appraisal', 'counter', 'work_injury', 'application',
     '劳动能力鉴定申请', 'Work capacity appraisal application',
     '工伤治疗结束后申请劳动能力鉴定，确定伤残等级。',
     'After treatment, apply for an appraisal of your work capacity and disability grade.', 1, 410),
    ('work_injury_benefit_claim', 'counter', 'work_injury', 'application',
     '工伤待遇申领', 'Work-injury benefit claim',
     '工伤认定后申领医疗费、伤残补助等工伤保险待遇。',
     'Once the injury is recognised, claim medical costs, disability allowances and other benefits.', 2, 420),
    -- Counter service area: maternity
    ('maternity_allowance_claim', 'counter', 'maternity', 'application',
     '生育津贴申领', 'Maternity allowance claim',
     '参保职工生育或实施计划生育手术后申领生育津贴。',
     'Insured employees claim the maternity allowance after childbirth or a family-planning procedure.', 1, 500),
    ('maternity_medical_reimbursement', 'counter', 'maternity', 'application',
     '生育医疗费用报销', 'Maternity medical expense reimbursement',
     '报销产前检查和分娩住院等生育医疗费用。',
     'Claim back prenatal check-up, delivery and hospital costs.', 0, 510),
    -- Counter service area: employer (unit) business
    ('employer_registration', 'counter', 'employer', 'application',
     '单位参保登记', 'Employer social insurance registration',
     '新成立的单位为职工办理社会保险参保登记。',
     'A newly established employer registers for social insurance for its staff.', 0, 600),
    ('employer_contribution_base_declaration', 'counter', 'employer', 'declaration',
     '单位缴费基数申报', 'Employer contribution base declaration',
     '单位每年申报职工的社会保险缴费工资基数。',
     'Employers declare each employee''s contribution wage base every year.', 0, 610),
    ('employer_staff_changes', 'counter', 'employer', 'declaration',
     '单位人员增减', 'Employer staff additions and removals',
     '单位为新入职或离职的职工办理参保增员或减员。',
     'Employers add new staff to, or remove leavers from, their social insurance.', 0, 620),
    ('employer_information_change', 'counter', 'employer', 'modification',
     '单位信息变更', 'Employer information change',
     '单位名称、地址、法定代表人或银行账户等信息变更。',
     'Change an employer''s name, address, legal representative or bank account.', 0, 630),
    ('employer_contribution_payment', 'counter', 'employer', 'payment',
     '单位社保费缴纳', 'Employer contribution payment',
     '单位按月缴纳社会保险费，或补缴欠缴的费用。',
     'Employers pay monthly social insurance contributions or settle arrears.', 0, 640),
    -- Counter service area: transfers
    ('pension_transfer', 'counter', 'transfer', 'transfer',
     '养老保险关系跨地区转移', 'Cross-region pension transfer',
     '换城市工作后，把养老保险关系和缴费记录转到新的参保地。',
     'Moved to another city for work? Transfer your pension record to your new place of insurance.', 0, 700),
    ('medical_insurance_transfer', 'counter', 'transfer', 'transfer',
     '医疗保险关系转移接续', 'Medical insurance transfer',
     '跨地区流动就业时转移接续基本医疗保险关系。',
     'Carry your basic medical insurance over when you move to work in another region.', 0, 710),
    ('unemployment_insurance_transfer', 'counter', 'transfer', 'transfer',
     '失业保险关系转移', 'Unemployment insurance transfer',
     '跨统筹地区就业或失业时转移失业保险关系。',
     'Transfer your unemployment insurance when you work or become unemployed in another region.', 0, 720),
    -- Counter service area: personal matters
    ('personal_information_change', 'counter', 'general', 'modification',
     '个人信息变更', 'Personal information change',
     '变更姓名、证件号码、联系电话或地址等个人基本信息。',
     'Update your name, ID number, phone number, address or other basic details.', 0, 800),
    ('social_security_card_loss', 'counter', 'general', 'modification',
     '社保卡挂失与补换', 'Social security card loss report and replacement',
     '社保卡丢失时立即挂失，并申请补办或换领新卡。',
     'Report a lost social security card at once and apply for a replacement.', 2, 810),
    -- Self-service inquiry area
    ('pension_benefit_inquiry', 'self_service', 'pension', 'inquiry',
     '养老保险待遇查询', 'Pension benefit inquiry',
     '查询养老金发放金额、发放记录和待遇调整情况。',
     'Check your pension amount, payment history and benefit adjustments.', 0, 900),
    ('pension_contribution_inquiry', 'self_service', 'pension', 'inquiry',
     '养老保险缴费查询', 'Pension contribution inquiry',
     '查询养老保险缴费记录和累计缴费年限。',
     'See your pension contribution record and how many years you have paid.', 0, 910),
    ('medical_account_inquiry', 'self_service', 'medical', 'inquiry',
     '医疗保险个人账户查询', 'Medical insurance personal account inquiry',
     '查询医保个人账户余额、划入和消费明细。',
     'Check your medical insurance account balance, deposits and spending.', 0, 920),
    ('unemployment_benefit_inquiry', 'self_service', 'unemployment', 'inquiry',
     '失业保险待遇查询', 'Unemployment benefit inquiry',
     '查询失业保险金的领取期限和发放情况。',
     'Check how long you can receive unemployment benefit and what has been paid.', 0, 930),
    ('maternity_benefit_inquiry', 'self_service', 'maternity', 'inquiry',
     '生育保险待遇查询', 'Maternity benefit inquiry',
     '查询生育津贴和生育医疗费用的审核与发放进度。',
     'Follow the review and payment of your maternity allowance and medical costs.', 0, 940),
    ('employer_contribution_inquiry', 'self_service', 'employer', 'inquiry',
     '单位缴费查询', 'Employer contribution inquiry',
     '单位查询应缴、实缴和欠缴的社会保险费明细。',
     'Employers check contributions due, paid and in arrears.', 0, 950),
    ('personal_rights_record', 'self_service', 'general', 'inquiry',
     '个人权益记录查询', 'Personal social insurance record',
     '查询本人各险种的参保状态、缴费和待遇记录。',
     'See your insurance status, contributions and benefits across all schemes.', 0, 960),
    ('contribution_certificate', 'self_service', 'general', 'other',
     '参保缴费证明打印', 'Contribution certificate printing',
     '打印参保缴费证明，用于购房、落户、入学等。',
     'Print a proof of insurance and contributions for housing, residence or school applications.', 0, 970),
    -- Information announcements area
    ('policy_consultation', 'announcements', 'general', 'inquiry',
     '社保政策咨询', 'Social insurance policy consultation',
     '了解最新社保政策、缴费标准和待遇调整公告。',
     'Ask about the latest policies, contribution rates and benefit announcements.', 0, 1000),
    -- Rest area
    ('service_feedback', 'rest', 'general', 'other',
     '服务评价与建议', 'Service feedback and suggestions',
     '对我们的服务提出评价、意见和建议。',
     'Tell us how we did and how we can serve you better.', 0, 1100);

-- The skills of each agent, with a level (1..10, higher is more experienced). Routing offers a
-- call to agents with the call's skill. A deleted user or skill takes its rows with it.
CREATE TABLE agent_skills (
    user_id  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    skill_id TEXT    NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    level    INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (user_id, skill_id)
);

-- Who can take a skill's calls (the primary key serves the per-user lookups).
CREATE INDEX agent_skills_skill_id ON agent_skills (skill_id);

-- Public holidays and make-up working days, as 'YYYY-MM-DD' local dates. A 'holiday' closes
-- the human queues whatever their weekly hours say; a 'workday' is an official make-up working
-- day on a weekend, on which the Monday-to-Friday hours apply.
-- Seeded with China's 2026 schedule (and 2027-01-01); admins maintain it through the API
-- (Store::upsert_holiday / delete_holiday) as each year's schedule is published.
CREATE TABLE holidays (
    day     TEXT PRIMARY KEY NOT NULL
        CHECK (length(day) = 10 AND substr(day, 5, 1) = '-' AND substr(day, 8, 1) = '-'),
    kind    TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name_zh TEXT NOT NULL CHECK (name_zh <> ''),
    name_en TEXT NOT NULL CHECK (name_en <> '')
);

INSERT INTO holidays (day, kind, name_zh, name_en) VALUES
    ('2026-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('2026-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('2026-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('2026-01-04', 'workday', '元旦调休上班', 'New Year''s Day make-up workday'),
    ('2026-02-14', 'workday', '春节调休上班', 'Spring Festival make-up workday'),
    ('2026-02-15', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-16', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-17', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-18', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-19', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-20', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-21', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-22', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-23', 'holiday', '春节', 'Spring Festival'),
    ('2026-02-28', 'workday', '春节调休上班', 'Spring Festival make-up workday'),
    ('2026-04-04', 'holiday', '清明节', 'Qingming Festival'),
    ('2026-04-05', 'holiday', '清明节', 'Qingming Festival'),
    ('2026-04-06', 'holiday', '清明节', 'Qingming Festival'),
    ('2026-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('2026-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('2026-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('2026-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('2026-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('2026-05-09', 'workday', '劳动节调休上班', 'Labour Day make-up workday'),
    ('2026-06-19', 'holiday', '端午节', 'Dragon Boat Festival'),
    ('2026-06-20', 'holiday', '端午节', 'Dragon Boat Festival'),
    ('2026-06-21', 'holiday', '端午节', 'Dragon Boat Festival'),
    ('2026-09-20', 'workday', '国庆节调休上班', 'National Day make-up workday'),
    ('2026-09-25', 'holiday', '中秋节', 'Mid-Autumn Festival'),
    ('2026-09-26', 'holiday', '中秋节', 'Mid-Autumn Festival'),
    ('2026-09-27', 'holiday', '中秋节', 'Mid-Autumn Festival'),
    ('2026-10-01', 'holiday', '国庆节', 'National Day'),
    ('2026-10-02', 'holiday', '国庆节', 'National Day'),
    ('2026-10-03', 'holiday', '国庆节', 'National Day'),
    ('2026-10-04', 'holiday', '国庆节', 'National Day'),
    ('2026-10-05', 'holiday', '国庆节', 'National Day'),
    ('2026-10-06', 'holiday', '国庆节', 'National Day'),
    ('2026-10-07', 'holiday', '国庆节', 'National Day'),
    ('2026-10-10', 'workday', '国庆节调休上班', 'National Day make-up workday'),
    ('2027-01-01', 'holiday', '元旦', 'New Year''s Day');

-- Why an agent is away (not taking calls). A `system` reason is set by voicedesk itself (e.g.
-- after missed offers) and cannot be picked by an agent, but still has labels to show.
CREATE TABLE away_reasons (
    code    TEXT    PRIMARY KEY NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    name_zh TEXT    NOT NULL CHECK (name_zh <> ''),
    name_en TEXT    NOT NULL CHECK (name_en <> ''),
    sort    INTEGER NOT NULL DEFAULT 0,
    system  INTEGER NOT NULL DEFAULT 0 CHECK (system IN (0, 1))
);

INSERT INTO away_reasons (code, name_zh, name_en, sort, system) VALUES
    ('break',        '休息',     'Break',        10,  0),
    ('meal',         '用餐',     'Meal',         20,  0),
    ('meeting',      '会议',     'Meeting',      30,  0),
    ('training',     '培训',     'Training',     40,  0),
    ('other',        '其他',     'Other',        90,  0),
    ('missed_calls', '未接来电', 'Missed calls', 100, 1);

-- How a call ended for the agent, chosen in after-call work. Same shape as away_reasons; none
-- of the seeded dispositions is a system one.
CREATE TABLE dispositions (
    code    TEXT    PRIMARY KEY NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    name_zh TEXT    NOT NULL CHECK (name_zh <> ''),
    name_en TEXT    NOT NULL CHECK (name_en <> ''),
    sort    INTEGER NOT NULL DEFAULT 0,
    system  INTEGER NOT NULL DEFAULT 0 CHECK (system IN (0, 1))
);

INSERT INTO dispositions (code, name_zh, name_en, sort, system) VALUES
    ('resolved',         '已解答',     'Resolved',           10, 0),
    ('needs_follow_up',  '需跟进',     'Needs follow-up',    20, 0),
    ('transferred',      '已转接',     'Transferred',        30, 0),
    ('documents_needed', '需补充材料', 'Documents needed',   40, 0),
    ('complaint',        '投诉',       'Complaint',          50, 0),
    ('wrong_service',    '非本业务',   'Not this service',   60, 0),
    ('other',            '其他',       'Other',              90, 0);

-- The agent's wrap-up of a call: one per agent per call (a transferred call has two agents).
-- Saving again replaces it (the agent corrects it). A disposition in use cannot be deleted.
CREATE TABLE call_wrapups (
    call_id     TEXT   NOT NULL REFERENCES calls (id),
    agent_id    TEXT   NOT NULL REFERENCES users (id),
    disposition TEXT   NOT NULL REFERENCES dispositions (code),
    notes       TEXT   NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (call_id, agent_id)
);

-- One agent's wrap-ups (reports); the disposition lookup when one is deleted.
CREATE INDEX call_wrapups_agent_id ON call_wrapups (agent_id, at_ms);
CREATE INDEX call_wrapups_disposition ON call_wrapups (disposition);

-- The queue a call waits in (NULL: a call recorded without one, e.g. before this change) and its
-- priority (0..9, from its service); how many times it was transferred to another queue, the
-- last time at `transferred_at_ms`. A skill that calls refer to cannot be deleted.
ALTER TABLE calls ADD COLUMN skill_id TEXT NULL REFERENCES skills (id);
ALTER TABLE calls ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 9);
ALTER TABLE calls ADD COLUMN transfer_count INTEGER NOT NULL DEFAULT 0
    CHECK (transfer_count >= 0);
ALTER TABLE calls ADD COLUMN transferred_at_ms BIGINT NULL;

CREATE INDEX calls_skill_id ON calls (skill_id);
