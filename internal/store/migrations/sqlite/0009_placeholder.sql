-- Placeholder for schema 9, which another branch takes; the numbers must
-- run 1..n. Drop this file at merge (the h10-heartbeat migration is 10).
SELECT 1;
