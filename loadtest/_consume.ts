/**
 * The P4 consumer where curl is not installed: one POST, the answer's body read and dropped,
 * then one line as curl's `-w "%{http_code} %{size_download} %{speed_download}"` prints it
 * (status, bytes, bytes per second).
 *
 * `deno run --allow-net loadtest/_consume.ts <url> <headers as JSON> <body>`
 *
 * @module
 */
const [url, headers, body] = Deno.args as [string, string, string];
const start = performance.now();
const answer = await fetch(url, { method: "POST", headers: JSON.parse(headers), body });
let size = 0;
for await (const chunk of answer.body ?? []) size += chunk.length;
const seconds = (performance.now() - start) / 1000;
console.log(`${answer.status} ${size} ${size / seconds}`);
