-- Who changed which row when: every admin write and import (and later every onboarding
-- decision), written in the same transaction as the change, so there is no change without
-- its entry. Kept as long as the protocol.
create table audit_entries (
  id         bigserial primary key,
  at         timestamptz not null default now(),
  -- The client id of the operator, or "admin-token" for the bootstrap token.
  actor      text not null,
  -- "put", "delete", "import"; later e.g. "onboarding-approve".
  action     text not null,
  table_name text not null,
  -- The row's key; null for an import (one entry for the whole file).
  row_key    text,
  -- The row before and after (null when absent), secrets redacted.
  before     jsonb,
  after      jsonb,
  -- Anything else worth keeping: an import's row count and resulting version.
  detail     jsonb
);
create index audit_entries_at on audit_entries (at);
create index audit_entries_row on audit_entries (table_name, row_key, id);
create index audit_entries_actor on audit_entries (actor, id);
