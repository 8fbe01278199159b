-- Which row each single-row write touched, by the table version it made: an instance that
-- holds version v of a table and sees version v + n loads just these rows instead of the
-- whole table (a million routes). Bulk writes note nothing; a gap in the versions means
-- "reload the table". Only the newest few thousand versions are kept.
create table table_changes (
  table_name text not null,
  version    bigint not null,
  row_key    text not null,
  primary key (table_name, version, row_key)
);
