-- The same rules as 001_tables.sql, in a form PostgreSQL checks quickly. A bounded repetition
-- (`{0,62}`) in a regular expression cost about 14 µs per row: writing a million routes spent
-- 34 of its 38 s in the two checks of `routes` (BENCHMARKS.md, issue 14). An id is still one
-- lower-case letter or digit, then up to 62 of those or hyphens; a region key still 0, 2, 3, 5
-- or 8 digits.
alter table routes drop constraint routes_id_check;
alter table routes add constraint routes_id_check
  check (id ~ '^[a-z0-9][a-z0-9-]*$' and length(id) <= 63);
alter table routes drop constraint routes_region_key_check;
alter table routes add constraint routes_region_key_check
  check (region_key ~ '^[0-9]*$' and length(region_key) in (0, 2, 3, 5, 8));
alter table evidence_types drop constraint evidence_types_id_check;
alter table evidence_types add constraint evidence_types_id_check
  check (id ~ '^[a-z0-9][a-z0-9-]*$' and length(id) <= 63);
alter table providers drop constraint providers_id_check;
alter table providers add constraint providers_id_check
  check (id ~ '^[a-z0-9][a-z0-9-]*$' and length(id) <= 63);
alter table clients drop constraint clients_id_check;
alter table clients add constraint clients_id_check
  check (id ~ '^[a-z0-9][a-z0-9-]*$' and length(id) <= 63);
alter table permissions drop constraint permissions_id_check;
alter table permissions add constraint permissions_id_check
  check (id ~ '^[a-z0-9][a-z0-9-]*$' and length(id) <= 63);
