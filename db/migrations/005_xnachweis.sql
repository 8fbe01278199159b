-- XNachweis 1.2.0 (docs/api.md §3.1): an evidence type's EU Semantic Repository classification (the
-- 0101's EvidenceTypeClassification, so unique), a provider's XNachweis endpoint, and the
-- authorities a consumer (an EfA service) may act for.
alter table evidence_types add column classification text unique
  check (classification ~ '^https://sr\.oots\.tech\.ec\.europa\.eu/evidencetypeclassifications/'
    and length(classification) <= 500);
alter table providers add column xnachweis_endpoint text
  check (xnachweis_endpoint ~ '^https?://');
alter table permissions add column on_behalf_of text[];
