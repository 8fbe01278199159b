/**
 * Lotse's own header names that the transport, the faces and the provider kit share. A leaf
 * module (no imports): the transport is loaded by small processes (the forwarding fixture of
 * the memory test, the provider kit) that must not pull in zod or the schemas.
 *
 * @module
 */

/**
 * The response header in which a provider may report the IDNr of the person the evidence is
 * about when the request carried none (an EU request names a person by eIDAS attributes;
 * XNachweis 1.2.0 has no element for it in a 0302), so the transfer shows in that person's
 * Datenschutzcockpit (docs/api.md §3, provider contract).
 */
export const SUBJECT_IDNR_HEADER = "lotse-subject-idnr";
