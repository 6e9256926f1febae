-- Quench schema (SQLite): checklist templates. A template adds its items
-- to every new incident it applies to: an incident of its severity (any
-- when empty) touching its service (any when empty), or one opened with
-- the template chosen by name. items is a JSON array of
-- {"phase", "text"} objects in the order they are added.
CREATE TABLE checklist_templates (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    severity   TEXT    NOT NULL DEFAULT '',
    service    TEXT    NOT NULL DEFAULT '',
    items      TEXT    NOT NULL DEFAULT '[]',
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
