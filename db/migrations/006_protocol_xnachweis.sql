-- XNachweis (docs/api.md §3.1): the authority an EfA service fetched the evidence for, and the
-- outcome "deferred" (a 0102 that announces when the evidence will be ready).
alter table protocol_entries add column on_behalf_of text;
do $$
declare
  name text;
begin
  select conname into name from pg_constraint
  where conrelid = 'protocol_entries'::regclass and contype = 'c'
    and pg_get_constraintdef(oid) like '%in-flight%';
  execute format('alter table protocol_entries drop constraint %I', name);
end $$;
alter table protocol_entries add constraint protocol_entries_outcome_check check (
  (kind = 'decision' and outcome in ('in-flight', 'refused', 'granted')) or
  (kind = 'outcome' and outcome in ('delivered', 'deferred', 'failed'))
);
