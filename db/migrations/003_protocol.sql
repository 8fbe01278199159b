-- The protocol log (§ 9 IDNrG, docs/api.md §4). Append-only: a transfer has a "decision" entry,
-- written before the first evidence byte reaches the consumer, and an "outcome" entry
-- appended when it ends (a refusal is a decision entry with outcome "refused" and no outcome
-- entry; a granted authorization, POST /v1/authorizations, one with outcome "granted"). Rows
-- are never updated; queries combine the two entries of a transfer.
--
-- Every entry is a link of one hash chain: `hash` is SHA-256 over the previous entry's hash
-- and a canonical encoding of this entry (src/protocol/_chain.ts). `seq` is the position in
-- the chain, gapless, assigned under the lock on `protocol_chain` by the writer.

create table protocol_entries (
  seq           bigint primary key,
  transfer_id   uuid not null,
  kind          text not null check (kind in ('decision', 'outcome')),
  at            timestamptz not null,
  consumer_id   text,
  provider_id   text,
  evidence_type text,
  purpose       text,
  legal_basis   text,
  idnr_used     boolean,
  -- HMAC-SHA-256 of the IDNr under LOTSE_PROTOCOL_KEY, hex; never the IDNr itself.
  -- Length checks, not regular expressions: those cost a third of the insert time.
  idnr_hmac     text check (char_length(idnr_hmac) = 64),
  jti           text,
  outcome       text not null check (
    (kind = 'decision' and outcome in ('in-flight', 'refused', 'granted')) or
    (kind = 'outcome' and outcome in ('delivered', 'failed'))
  ),
  status        integer,
  bytes         bigint,
  digest        text,
  duration_ms   integer,
  reason        text,
  prev_hash     text not null check (char_length(prev_hash) = 64),
  hash          text not null check (char_length(hash) = 64),
  -- The idempotency key: a replayed spool never writes a transfer's entry twice.
  unique (transfer_id, kind)
);

-- Datenschutzcockpit: a person's decisions by time, paged by (at, seq).
create index protocol_entries_idnr on protocol_entries (idnr_hmac, at, seq)
  where idnr_hmac is not null;

-- The chain's two ends. The anchor is the hash of the last purged entry (zeros while nothing
-- was purged), so the remainder still verifies after retention deleted its beginning; the
-- head is the last appended entry, so a deleted tail is detected too. Its row lock is what
-- serialises appends from every Lotse instance (one chain, see src/protocol/_log.ts).
create table protocol_chain (
  id          integer primary key check (id = 1),
  anchor_seq  bigint not null,
  anchor_hash text not null check (anchor_hash ~ '^[0-9a-f]{64}$'),
  head_seq    bigint not null,
  head_hash   text not null check (head_hash ~ '^[0-9a-f]{64}$')
);
insert into protocol_chain (id, anchor_seq, anchor_hash, head_seq, head_hash) values
  (1, 0, repeat('0', 64), 0, repeat('0', 64));
