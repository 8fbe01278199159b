-- Self-service onboarding (docs/api.md §3.3): what an authority asked for, as it asked, until an
-- operator decides (or the test environment approves at once). Nothing here is loaded into
-- memory: approval writes the client, provider, routes and permissions through the same
-- table writes as data management.
create table registrations (
  id          uuid primary key,
  created_at  timestamptz not null default now(),
  kind        text not null check (kind in ('consumer', 'provider')),
  -- The wanted client id (and provider id, for a provider): one open or approved
  -- registration per id.
  client_id   text not null check (client_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  status      text not null check (status in ('pending', 'approved', 'rejected')),
  -- The validated body, as submitted.
  body        jsonb not null,
  source      text,
  decided_at  timestamptz,
  decided_by  text,
  reason      text check (length(reason) <= 1000)
);
create unique index registrations_open_client on registrations (client_id)
  where status in ('pending', 'approved');
create index registrations_status on registrations (status, created_at);

-- Readiness checks (conformance of a provider's registered endpoints): the newest per
-- provider is shown on the operator's approval page.
create table readiness_checks (
  id          uuid primary key,
  at          timestamptz not null default now(),
  provider_id text not null,
  requested_by text not null,
  passed      boolean not null,
  checks      jsonb not null,
  endpoints   jsonb not null
);
create index readiness_checks_provider on readiness_checks (provider_id, at desc);
