-- Signing keys may be Ed25519 (EdDSA) as well as EC P-256 (ES256): LOTSE_TOKEN_ALG.
alter table signing_keys drop constraint if exists signing_keys_alg_check;
alter table signing_keys add constraint signing_keys_alg_check check (alg in ('ES256', 'EdDSA'));
