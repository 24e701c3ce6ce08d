-- voicedesk store, change 0015 (SQLite): canned replies (常用语) for the live chat (issue 16),
-- kept per service by admins and offered to agents in the chat composer. Keep in step with
-- migrations/postgres/0015_canned_replies.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- A reply belongs to one service of the catalogue and goes with it when the service is
-- deleted. title is the short label the agent picks from; body is the text sent (at most
-- 2,000 characters, the chat's limit). sort orders a service's replies (then the title).
-- updated_by is the user id of the admin who last wrote it ('system' for the seeded rows); not a
-- foreign key, so a reply outlives its author's account.
CREATE TABLE canned_replies (
    id            TEXT    PRIMARY KEY NOT NULL,
    service       TEXT    NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    title         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    sort          INTEGER NOT NULL DEFAULT 0,
    updated_by    TEXT    NOT NULL,
    updated_at_ms BIGINT  NOT NULL
);

CREATE INDEX canned_replies_by_service ON canned_replies (service, sort);

INSERT INTO canned_replies (id, service, title, body, sort, updated_by, updated_at_ms)
VALUES
    ('pension_greeting', 'pension_benefit_inquiry', '问候 Greeting',
     '您好，我是社保咨询员，请问有什么可以帮您？ Hello, how can I help you with your pension?',
     0, 'system', 1795334400000),
    ('pension_card_number', 'pension_benefit_inquiry', '请提供社保卡号 Card number',
     '请提供您的社会保障卡号码，以便查询您的养老金发放记录。 Please give me your social security card number so I can look up your pension payments.',
     1, 'system', 1795334400000),
    ('pension_payment_date', 'pension_benefit_inquiry', '发放时间 Payment date',
     '养老金每月15日前发放到您的社保卡银行账户，遇节假日顺延。 Pensions are paid into your social security card''s bank account by the 15th of each month, later when that day is a holiday.',
     2, 'system', 1795334400000);
