-- Quench schema 14: the incident log as viewers see it. Their filter is
-- visibility = 'public'; counting the page's total read every incident
-- row, now the entries of one narrow index.
CREATE INDEX incidents_visibility ON incidents (visibility, number);
