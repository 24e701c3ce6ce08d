-- voicedesk store, change 0011 (Postgres): the knowledge base's synonym groups written by admins,
-- and the questions the assistant had no confident answer to. Keep in step with
-- migrations/sqlite/0011_knowledge_synonyms_and_misses.sql (the same body).
-- Never edit a migration once released (sqlx keeps its checksum): add a new numbered change.
--
-- Synonym groups are stored whole as JSON (the knowledge crate's SynonymGroup: id, lang,
-- phrases), like kb_articles; they add to the groups built into the binary and are applied to
-- the next question after a change.
CREATE TABLE kb_synonyms (
    id            TEXT    PRIMARY KEY NOT NULL,
    group_json    TEXT    NOT NULL,
    updated_at_ms BIGINT  NOT NULL
);

-- One row per distinct question (trimmed, whitespace collapsed) in a language ('zh', 'en') that
-- got no confident answer: how often it was asked, first and last time. Admins read it newest
-- first to write the missing article.
CREATE TABLE kb_unanswered (
    lang              TEXT    NOT NULL CHECK (lang IN ('zh', 'en')),
    question          TEXT    NOT NULL CHECK (question <> ''),
    asked             INTEGER NOT NULL CHECK (asked > 0),
    first_asked_at_ms BIGINT  NOT NULL,
    last_asked_at_ms  BIGINT  NOT NULL,
    PRIMARY KEY (lang, question)
);
CREATE INDEX kb_unanswered_by_last_asked ON kb_unanswered (last_asked_at_ms);
