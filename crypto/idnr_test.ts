import assert from "node:assert/strict";
import { checkIdnr, idnrCheckDigit, isValidIdnr } from "./idnr.ts";

/** A second, independent MOD 11,10 (ISO 7064) written from the standard's recursion. */
function referenceCheckDigit(first10: string): number {
  let p = 10;
  for (const ch of first10) {
    const s = (Number(ch) + p) % 10 || 10;
    p = (2 * s) % 11;
  }
  return (11 - p) % 10;
}

const KNOWN_GOOD = ["86095742719", "47036892816", "65929970489", "26954371827", "57549285017"];

// Valid by construction: a digit three times but not in a row, a digit twice in a row.
const CONSTRUCTED_GOOD = ["11213456783", "98765543211", "12234567899"];

Deno.test("isValidIdnr() accepts known-good IDNrs, among them 86095742719", () => {
  for (const idnr of KNOWN_GOOD) {
    assert.equal(checkIdnr(idnr), null, idnr);
    assert.equal(isValidIdnr(idnr), true, idnr);
  }
});

Deno.test("idnrCheckDigit() agrees with an independent reference on every valid example", () => {
  for (const idnr of [...KNOWN_GOOD, ...CONSTRUCTED_GOOD]) {
    const expected = Number(idnr[10]);
    assert.equal(referenceCheckDigit(idnr.slice(0, 10)), expected, idnr);
    assert.equal(idnrCheckDigit(idnr.slice(0, 10)), expected, idnr);
  }
});

Deno.test("isValidIdnr() accepts a digit three times when not in a row, and twice in a row", () => {
  for (const idnr of CONSTRUCTED_GOOD) assert.equal(checkIdnr(idnr), null, idnr);
});

Deno.test("checkIdnr() refuses anything but exactly 11 digits", () => {
  for (
    const s of ["", "8609574271", "860957427190", "8609574271a", " 86095742719", "８6095742719"]
  ) {
    assert.equal(checkIdnr(s), "Cannot accept IDNr: expected 11 digits", JSON.stringify(s));
  }
  assert.equal(
    checkIdnr(86095742719 as unknown as string),
    "Cannot accept IDNr: expected 11 digits",
  );
});

Deno.test("checkIdnr() refuses a leading zero", () => {
  assert.equal(checkIdnr("02476291358"), "Cannot accept IDNr: first digit must not be 0");
});

Deno.test("checkIdnr() refuses first ten digits in which no digit repeats", () => {
  const first10 = "1234567890";
  const idnr = first10 + referenceCheckDigit(first10);
  assert.match(checkIdnr(idnr)!, /exactly one digit to repeat/);
});

Deno.test("checkIdnr() refuses first ten digits in which two digits repeat", () => {
  const first10 = "1122345678";
  const idnr = first10 + referenceCheckDigit(first10);
  assert.match(checkIdnr(idnr)!, /exactly one digit to repeat/);
});

Deno.test("checkIdnr() refuses a digit that occurs four times", () => {
  const first10 = "1213141567";
  const idnr = first10 + referenceCheckDigit(first10);
  assert.match(checkIdnr(idnr)!, /at most three times/);
});

Deno.test("checkIdnr() refuses a digit three times in a row", () => {
  for (const first10 of ["1112345678", "2345678999", "2345111678"]) {
    const idnr = first10 + referenceCheckDigit(first10);
    assert.equal(checkIdnr(idnr), "Cannot accept IDNr: a digit occurs three times in a row");
  }
});

Deno.test("checkIdnr() refuses every wrong check digit", () => {
  for (const idnr of KNOWN_GOOD) {
    for (let d = 0; d <= 9; d++) {
      if (String(d) === idnr[10]) continue;
      assert.equal(
        checkIdnr(idnr.slice(0, 10) + d),
        "Cannot accept IDNr: check digit does not match",
      );
    }
  }
});

Deno.test("checkIdnr() catches a swap of two adjacent digits", () => {
  // 86095742719 with positions 2 and 3 swapped.
  assert.equal(checkIdnr("86905742719"), "Cannot accept IDNr: check digit does not match");
});

Deno.test("checkIdnr() reasons never contain the number itself", () => {
  for (const s of ["86095742718", "1112345678x", "02476291358"]) {
    assert.ok(!checkIdnr(s)!.includes(s.slice(0, 5)));
  }
});
