/**
 * The test PKI (a CA and a server certificate signed by it, made with openssl), for use
 * outside tests/: the load tests serve their HTTPS provider with it.
 *
 * @module
 */
export { createTestPki, type TestPki } from "./_tls.ts";
