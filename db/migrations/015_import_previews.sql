-- The rows of a large route import, published by the importing instance before its commit, so
-- that every instance builds its next navigation index while the import still writes and swaps
-- it in when the commit arrives (db/import_preview.ts, src/store.ts). Scratch data: unlogged,
-- removed when the import ends; a preview alone never changes what an instance serves.
create unlogged table import_previews (
  id         bigserial primary key,
  rows       integer not null,
  created_at timestamptz not null default now()
);
-- Which table version an import with a preview made, apart from `table_changes`: an instance
-- of a Lotse before this migration sees that version as a gap in the change log and reads the
-- table whole, instead of taking the marker for a route id.
create table table_change_previews (
  table_name text not null,
  version    bigint not null,
  preview_id bigint not null,
  primary key (table_name, version)
);
-- The import's id comes from the session setting its writer sets: COPY sends the rows as the
-- upload arrives, without an id in every line.
create unlogged table import_preview_routes (
  import_id     bigint not null default current_setting('lotse.preview')::bigint,
  line          integer not null,
  id            text not null,
  evidence_type text not null,
  region_key    text not null,
  provider_id   text not null
);
