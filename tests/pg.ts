/**
 * The throwaway PostgreSQL of the tests, for use outside tests/ (db/ tests, load tests):
 * a cluster of one's own, or a fresh database on the shared one.
 *
 * @module
 */
export { type Cluster, freshDatabaseUrl, freshPostgres, startCluster } from "./_pg.ts";
