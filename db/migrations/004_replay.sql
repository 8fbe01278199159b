-- One-time identifiers (client assertion `jti`) shared by every instance, so an assertion
-- accepted by one instance is refused by all others until it expires (RFC 7523 § 3).
create table used_jtis (
  key        text primary key,
  expires_at timestamptz not null
);
create index used_jtis_expires on used_jtis (expires_at);
