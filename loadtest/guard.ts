/**
 * Performance regression guard: a short run of the product benchmarks (P1, P4, P10 ratios,
 * each against its reference in the same run, three alternating rounds) that fails when a
 * ratio falls below its recorded value (loadtest/guard.json) times the margin.
 *
 * ```sh
 * deno task bench:guard            # about 3 minutes
 * ```
 *
 * Not part of `deno task test`: CI runs the suite on the same 2-core machine, and while the
 * parallel suite runs, the server core and the load core are shared with it, so a ratio can
 * swing by a factor of two for reasons outside Lotse (BENCHMARKS.md, "Regression guard").
 * Run it on its own, after the suite.
 *
 * @module
 */
import { median } from "./_harness.ts";
import { Cleanups, loadAverage } from "./_harness.ts";
import { evidence } from "./_evidence.ts";
import { type Args, authorizations, navigation } from "./run.ts";
import GUARD from "./guard.json" with { type: "json" };

type Name = keyof typeof GUARD.recorded;

async function measure(cleanups: Cleanups): Promise<Record<Name, number>> {
  const args = { scenario: "guard", duration: 4, runs: 3 } as Args;
  const nav = await navigation(args, cleanups);
  await cleanups.run();
  const ev = await evidence({ rounds: 3, bytes: 256 * 1024 ** 2, concurrent: 0 }, cleanups);
  await cleanups.run();
  const au = await authorizations({ ...args, alg: "ES256" }, cleanups);
  await cleanups.run();
  return {
    "P1 navigation / bare": median(nav.lotseOverBare),
    "P4 digest / nginx": ev.digestOverNginx,
    "P4 no digest / nginx": ev.plainOverNginx,
    "P10 authorizations / bare": median(au.results.map((r) => r.lotse!.rps / r.bare!.rps)),
  };
}

if (import.meta.main) {
  const cleanups = new Cleanups();
  let failed = 0;
  try {
    const before = await loadAverage();
    const measured = await measure(cleanups);
    const rows = (Object.keys(GUARD.recorded) as Name[]).map((name) => {
      const floor = GUARD.recorded[name] * GUARD.margin;
      const ok = measured[name] >= floor;
      if (!ok) failed++;
      return {
        ratio: name,
        measured: measured[name].toFixed(3),
        recorded: GUARD.recorded[name].toFixed(3),
        floor: floor.toFixed(3),
        ok: ok ? "yes" : "REGRESSED",
      };
    });
    console.table(rows);
    console.log(`Load average before ${before}, after ${await loadAverage()}`);
  } finally {
    await cleanups.run();
  }
  Deno.exit(failed === 0 ? 0 : 1);
}
