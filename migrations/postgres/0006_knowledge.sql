-- voicedesk store, change 0006 (postgres): the self-service knowledge base. Keep in step with the
-- other backend's 0006_knowledge.sql. Each article is stored whole as JSON (the knowledge crate's
-- `Article`: id, service_id, zh and en title/body/keywords); the store does not read inside it.
-- The server seeds the table from the articles shipped with the binary when it is empty, then
-- the table is the source: admins edit articles through the API and the index follows at once.
CREATE TABLE kb_articles (
    id            TEXT    PRIMARY KEY NOT NULL,
    article_json  TEXT    NOT NULL,
    updated_at_ms BIGINT  NOT NULL
);
