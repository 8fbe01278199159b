-- The tables Lotse loads into memory. Keys are checked here as well as at the HTTP edge,
-- so a bad row cannot reach the index whichever way it was written.

create table regions (
  ags  text primary key check (ags ~ '^[0-9]{8}$'),
  ars  text unique check (ars ~ '^[0-9]{12}$' and substr(ars, 1, 5) || substr(ars, 10, 3) = ags),
  name text not null check (length(name) between 1 and 200)
);

create table postcode_places (
  plz text not null check (plz ~ '^[0-9]{5}$'),
  ags text not null references regions (ags) on update cascade,
  ort text not null check (length(ort) between 1 and 200),
  primary key (plz, ags, ort)
);
create index postcode_places_ags on postcode_places (ags);

create table evidence_types (
  id          text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text not null check (length(name) between 1 and 200),
  description text check (length(description) <= 2000)
);

create table providers (
  id       text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name     text not null check (length(name) between 1 and 200),
  endpoint text not null check (endpoint ~ '^https?://'),
  ca_cert  text
);

create table routes (
  id            text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  evidence_type text not null references evidence_types (id),
  region_key    text not null check (region_key ~ '^([0-9]{2}|[0-9]{3}|[0-9]{5}|[0-9]{8})?$'),
  provider_id   text not null references providers (id),
  unique (evidence_type, region_key)
);
create index routes_provider on routes (provider_id);

create table clients (
  id    text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name  text not null check (length(name) between 1 and 200),
  roles text[] not null,
  jwks  jsonb not null
);

create table permissions (
  id            text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  consumer_id   text not null references clients (id) on delete cascade,
  evidence_type text not null references evidence_types (id),
  provider_id   text references providers (id),
  purposes      text[] not null,
  legal_bases   text[] not null,
  idnr_allowed  boolean not null,
  valid_from    timestamptz,
  valid_until   timestamptz
);

-- One row per table; bumped in the same transaction as every change, so an instance can tell
-- which version it holds and reload only what changed.
create table table_versions (
  name    text primary key,
  version bigint not null default 0
);
insert into table_versions (name) values
  ('regions'), ('postcodes'), ('evidence-types'), ('providers'), ('routes'), ('clients'),
  ('permissions');
