-- The citizens' Datenschutzcockpit (docs/api.md §3.5): login transactions and sessions, shared
-- by every instance. Only SHA-256 hashes of the random ids in the browser's cookies are kept,
-- so a database dump yields no usable cookie; the person is kept as the HMAC of their IDNr (the
-- protocol's own key), never the IDNr itself.

-- An OpenID Connect login under way: the state, nonce and PKCE verifier until the identity
-- provider sends the person back (minutes), taken (deleted) exactly once.
create table cockpit_logins (
  id_hash     text primary key check (char_length(id_hash) = 64),
  state       text not null,
  nonce       text not null,
  verifier    text not null,
  expires_at  timestamptz not null
);
create index cockpit_logins_expires on cockpit_logins (expires_at);

create table cockpit_sessions (
  id_hash     text primary key check (char_length(id_hash) = 64),
  idnr_hmac   text not null check (char_length(idnr_hmac) = 64),
  csrf        text not null,
  created_at  timestamptz not null,
  expires_at  timestamptz not null
);
create index cockpit_sessions_expires on cockpit_sessions (expires_at);
