/**
 * A fleet: three instances on one PostgreSQL behind HAProxy (Debian's package; health checks
 * on /readyz, retries to another instance). Navigation and transfers run through the
 * balancer while one instance is killed with SIGKILL and later a second stopped with SIGTERM:
 * no navigation request fails, every transfer completes or fails with a proper answer, each
 * one the consumer saw is in the protocol once, and the chain verifies.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { CHILD_SECRETS, type LotseProcess, runVerifyTool, spawnLotse } from "./_lotse_process.ts";
import { clientAssertion, freePort, tokenForm } from "./_app.ts";
import { waitFor } from "./_wait.ts";
import { freshDatabaseUrl } from "./_pg.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;

async function locateHaproxy(): Promise<string | null> {
  for (const dir of [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"]) {
    try {
      await Deno.stat(`${dir}/haproxy`);
      return `${dir}/haproxy`;
    } catch { /* next */ }
  }
  return null;
}

/**
 * HAProxy from the system, first found wins: `LOTSE_TEST_HAPROXY`, then `PATH` and the sbin
 * directories; on a fresh Debian machine, as root, Debian's package is installed (no npm
 * package carries HAProxy). Missing otherwise is an error, never a skip.
 */
async function findHaproxy(): Promise<string> {
  const given = Deno.env.get("LOTSE_TEST_HAPROXY");
  if (given) return given;
  const found = await locateHaproxy();
  if (found) return found;
  if (Deno.uid?.() === 0) {
    const env = { ...Deno.env.toObject(), DEBIAN_FRONTEND: "noninteractive" };
    for (
      const args of [["update", "-qq"], [
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "haproxy",
      ]]
    ) {
      await new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "null" }).output()
        .catch(() => {});
    }
    const installed = await locateHaproxy();
    if (installed) return installed;
  }
  throw new Error("Cannot find haproxy: install it (apt-get install -y haproxy)");
}

function haproxyConfig(port: number, servers: readonly LotseProcess[]): string {
  return `global
  maxconn 1024
defaults
  mode http
  timeout connect 1s
  timeout check 5s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
frontend lotse
  bind 127.0.0.1:${port}
  default_backend lotse
backend lotse
  balance roundrobin
  option httpchk
  # HTTP/1.1 with a Host: Lotse refuses a request without one (400), and HAProxy's default
  # check is HTTP/1.0 without a Host.
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1:${port}
  http-check expect status 200
  # No "on-marked-down shutdown-sessions": a draining instance is marked down while it still
  # finishes its running transfers, which that would cut (a killed one's connections break anyway).
  default-server inter 300ms fall 3 rise 1
  http-response set-header x-served-by %s
${servers.map((s, i) => `  server lotse-${i} ${new URL(s.url).host} check`).join("\n")}
`;
}

const until = (what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 20_000) =>
  waitFor(ok, what, { timeoutMs });

Deno.test({
  name:
    "a fleet behind HAProxy loses one instance to SIGKILL and one to SIGTERM without a failed navigation",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const haproxy = await findHaproxy();
    const databaseUrl = await freshDatabaseUrl();
    const lbPort = freePort();
    const lb = `http://127.0.0.1:${lbPort}`;
    const fleet: LotseProcess[] = [];
    const provider = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.text();
      return Response.json({ echo: body.length, evidence: "x".repeat(2000) });
    });
    let balancer: Deno.ChildProcess | null = null;
    const dir = await Deno.makeTempDir({ prefix: "lotse-fleet-" });
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 3; i++) {
        // A SIGTERM drains for longer than HAProxy needs to mark the instance down (3 checks
        // 300 ms apart), so no new request reaches a closed listener.
        fleet.push(
          await spawnLotse({ databaseUrl, env: { LOTSE_PUBLIC_URL: lb, LOTSE_DRAIN_MS: "1500" } }),
        );
      }
      await Deno.writeTextFile(`${dir}/haproxy.cfg`, haproxyConfig(lbPort, fleet));
      balancer = new Deno.Command(haproxy, {
        args: ["-db", "-f", `${dir}/haproxy.cfg`],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // HAProxy's own complaints (a port taken meanwhile, a bad config) name the failure.
      // What HAProxy says (a server marked down and why), collected as it comes.
      let balancerLog = "";
      const pumped = balancer.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (text) => void (balancerLog += text) }),
      ).catch(() => {});
      let balancerExited = false;
      balancer.status.then(() => balancerExited = true);
      // Every instance is marked up once each has answered through the balancer.
      const up = new Set<string>();
      await until("all three instances up behind the balancer", async () => {
        try {
          const res = await fetch(`${lb}/readyz`);
          await res.body?.cancel();
          if (res.status === 200) up.add(res.headers.get("x-served-by") ?? "");
        } catch { /* not yet */ }
        if (balancerExited) {
          await pumped;
          throw new Error(`HAProxy exited at start: ${balancerLog.slice(0, 500)}`);
        }
        return up.size === 3;
      }, 60_000);

      // Our own provider, so no instance's demo provider is on the path.
      const admin = async (path: string, body: unknown) => {
        const res = await fetch(`${lb}/admin/v1/${path}`, {
          method: "PUT",
          headers: {
            authorization: `Bearer ${CHILD_SECRETS.LOTSE_ADMIN_TOKEN}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
        });
        assert.ok(res.status < 300, await res.text());
      };
      await admin("evidence-types/flotte", { name: "Flotte" });
      await admin("providers/flotte", {
        name: "Flotte",
        endpoint: `http://127.0.0.1:${provider.addr.port}/evidence`,
      });
      await admin("routes/flotte-bund", {
        evidenceType: "flotte",
        regionKey: "",
        providerId: "flotte",
      });
      await admin("permissions/flotte", {
        consumerId: "stuttgart-bewohnerparken",
        evidenceType: "flotte",
        providerId: "flotte",
        purposes: [purpose],
        legalBases: [legalBasis],
        idnrAllowed: false,
      });
      // A token from the balancer's URL is good on every instance (shared public URL).
      const assertion = await clientAssertion("stuttgart-bewohnerparken", `${lb}/v1/token`);
      const tokenRes = await fetch(`${lb}/v1/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: tokenForm("stuttgart-bewohnerparken", assertion),
      });
      const token = (await tokenRes.json()).access_token as string;
      assert.ok(token);
      // Every instance knows the new route before the load starts.
      for (const lotse of fleet) {
        await until(`the route on ${lotse.url}`, async () => {
          const res = await fetch(`${lotse.url}/v1/navigation?evidenceType=flotte&ags=08111000`, {
            headers: { authorization: `Bearer ${token}` },
          });
          await res.body?.cancel();
          return res.status === 200;
        });
      }

      let running = true;
      const nav = { ok: 0, failed: [] as string[] };
      // How each transfer ended for the consumer; `cut`: headers came, the body broke off.
      const transfers: {
        status: number;
        id: string | null;
        complete: boolean;
        problem: boolean;
        cut: boolean;
        server: string | null;
        error?: string;
      }[] = [];
      const navWorker = async () => {
        while (running) {
          try {
            const res = await fetch(`${lb}/v1/navigation?evidenceType=flotte&plz=70173`, {
              headers: { authorization: `Bearer ${token}` },
            });
            const text = await res.text();
            if (res.status === 200 && JSON.parse(text).provider?.id === "flotte") nav.ok++;
            else {
              nav.failed.push(
                `${res.status} from ${res.headers.get("x-served-by")} at ${nav.ok}: ${
                  text.slice(0, 200)
                }`,
              );
            }
          } catch (error) {
            nav.failed.push(String(error));
          }
        }
      };
      const transferWorker = async () => {
        while (running) {
          try {
            const res = await fetch(`${lb}/v1/evidence/flotte?ags=08111000`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${token}`,
                "lotse-purpose": purpose,
                "lotse-legal-basis": legalBasis,
                "content-type": "application/json",
              },
              body: '{"frage":"flotte"}',
            });
            const ended = {
              status: res.status,
              id: res.headers.get("lotse-transfer-id"),
              complete: false,
              problem: false,
              cut: false,
              server: res.headers.get("x-served-by"),
            };
            let text = "";
            try {
              text = await res.text();
            } catch (error) {
              ended.cut = true;
              Object.assign(ended, { error: String(error) });
            }
            if (!ended.cut && res.status === 200) {
              ended.complete = JSON.parse(text).evidence?.length === 2000;
            } else if (!ended.cut) {
              ended.problem = res.headers.get("content-type") === "application/problem+json";
            }
            transfers.push(ended);
          } catch (error) {
            // No answer at all reached the consumer: the balancer always answers, so this fails.
            transfers.push({
              status: 0,
              id: null,
              complete: false,
              problem: false,
              cut: false,
              server: null,
            });
            console.error("transfer:", error);
          }
        }
      };
      const workers = [navWorker(), navWorker(), transferWorker(), transferWorker()];
      const progress = (n: number) => until(`${n} more navigations`, () => nav.ok >= n, 60_000);
      await progress(100);
      const killed = await fleet[0]!.kill("SIGKILL");
      assert.equal(killed.signal, "SIGKILL");
      await progress(nav.ok + 200);
      const stopped = await fleet[1]!.kill("SIGTERM");
      assert.equal(stopped.code, 0, fleet[1]!.output.slice(-2000));
      await progress(nav.ok + 200);
      running = false;
      await Promise.all(workers);

      const byStatus: Record<string, number> = {};
      for (const t of transfers) {
        const key = t.cut ? `${t.status} cut` : String(t.status);
        byStatus[key] = (byStatus[key] ?? 0) + 1;
      }
      console.log(`fleet: ${nav.ok} navigations, transfers by status ${JSON.stringify(byStatus)}`);
      assert.deepEqual(nav.failed, [], `no failed navigation; HAProxy said:\n${balancerLog}`);
      assert.ok(transfers.length > 20, `transfers ran: ${transfers.length}`);
      for (const t of transfers) {
        // A body cut off is a clean failure only from the instance killed mid-stream: the
        // consumer sees the connection break, never a short body passing for a whole one.
        if (t.id !== null) assert.match(t.server ?? "", /^lotse-[0-2]$/);
        // The balancer's own 503 (every retry failed while an instance went away) reaches no
        // instance and so has no transfer id: a refusal the consumer can retry.
        const refused = t.status === 503 && t.id === null;
        const clean = t.complete || t.problem || refused || (t.cut && t.server === "lotse-0");
        if (!clean) {
          // What the instance said of it (its log lines naming the transfer, and its last ones).
          const instance = fleet[Number(t.server?.slice(-1))];
          const said = instance?.output.split("\n").filter((line) =>
            t.id !== null && line.includes(t.id)
          ).join("\n");
          assert.fail(
            `a transfer ended unclean: ${JSON.stringify(t)}\n${said}\n` +
              `last lines:\n${instance?.output.slice(-3000)}\nHAProxy said:\n${balancerLog}`,
          );
        }
      }
      const seen = transfers.filter((t) => t.id !== null).map((t) => t.id!);
      assert.equal(new Set(seen).size, seen.length, "transfer ids are unique");
      // The killed instance restarts on its spool; then every decision is in the protocol once.
      await fleet[0]!.restart();
      await until("every decision in the protocol", async () => {
        const rows = await sql`select count(*)::int as n from protocol_entries
          where kind = 'decision' and transfer_id = any(${seen}::uuid[])`;
        return rows[0]!.n === seen.length;
      });
      const doubled = await sql`select transfer_id, kind, count(*)::int as n from protocol_entries
        group by transfer_id, kind having count(*) > 1`;
      assert.deepEqual([...doubled], [], "no entry twice");
      // An outcome queued on the instance killed with SIGKILL may be lost with it (its decision
      // is durable before the first byte); the others, SIGTERM included, record every one.
      const delivered = transfers.filter((t) => t.complete && t.server !== "lotse-0")
        .map((t) => t.id!);
      assert.ok(delivered.length > 10, `deliveries by the survivors: ${delivered.length}`);
      await until("every delivery's outcome", async () => {
        const rows = await sql`select count(*)::int as n from protocol_entries
          where kind = 'outcome' and outcome = 'delivered' and transfer_id = any(${delivered}::uuid[])`;
        return rows[0]!.n === delivered.length;
      });
      const verify = await runVerifyTool(databaseUrl);
      assert.equal(verify.code, 0, verify.output);
    } finally {
      try {
        balancer?.kill("SIGTERM");
        await balancer?.status;
      } catch { /* gone */ }
      for (const lotse of fleet) await lotse.close();
      await provider.shutdown();
      await sql.end();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
