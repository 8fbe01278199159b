-- Lotse's own signing keys (ES256) for access and evidence tokens.
-- The private JWK is sealed by the application (AES-256-GCM, key derived from
-- LOTSE_KEY_SECRET); this table never sees it in the clear.
create table if not exists signing_keys (
  kid text primary key,
  alg text not null check (alg = 'ES256'),
  sealed_private_jwk text not null,
  created_at timestamptz not null,
  -- null while the key may sign; set when rotated out. It stays published until
  -- retired_at + retention, then the application deletes the row.
  retired_at timestamptz
);
