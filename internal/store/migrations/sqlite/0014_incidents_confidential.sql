-- Quench schema 14: the confidential incidents by number, a small partial
-- index. A viewer's incident log counts the public incidents as all of
-- them (the smallest index) less the confidential ones (this one), not by
-- reading every row; being partial on visibility <> 'public', it is of no
-- use to a query for public incidents, so the planner cannot pick it for
-- the viewer's board.
CREATE INDEX incidents_confidential ON incidents (number) WHERE visibility <> 'public';
