/**
 * Test PKI made with the `openssl` CLI in a temp dir: a CA and a server certificate for
 * `localhost` / `127.0.0.1` / `::1` signed by it.
 *
 * @module
 */

/** PEM material of one test CA and its server certificate. */
export interface TestPki {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** Creates a fresh CA (EC P-256, valid 1 day) and a server certificate signed by it. */
export async function createTestPki(name = "Lotse Test CA"): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "lotse_tls_" });
  try {
    const p = (file: string) => `${dir}/${file}`;
    await Deno.writeTextFile(
      p("server.ext"),
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n" +
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
    );
    await openssl(
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ["-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "1", "-subj", `/CN=${name}`],
      ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
    );
    await openssl(
      ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ["-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost"],
    );
    await openssl(
      ["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key")],
      ["-CAcreateserial", "-out", p("server.pem"), "-days", "1", "-extfile", p("server.ext")],
    );
    return {
      caCert: await Deno.readTextFile(p("ca.pem")),
      cert: await Deno.readTextFile(p("server.pem")),
      key: await Deno.readTextFile(p("server.key")),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function openssl(...args: string[][]): Promise<void> {
  const output = await new Deno.Command("openssl", { args: args.flat(), stdin: "null" }).output()
    .catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Error("The TLS tests need the openssl command: install openssl");
    });
  if (!output.success) {
    throw new Error(
      `Cannot run openssl ${args[0]?.[0]}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}
