-- Placeholder for schema 9, which another branch takes; the numbers must
-- run 1..n. Drop this file at merge (the h13-merge migration is 11).
SELECT 1;
