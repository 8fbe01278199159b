/**
 * A Hono router that keeps the routes under one first path segment apart from all others, each
 * set in a router of its own (Hono's default `SmartRouter` for both).
 *
 * Why: `SmartRouter` uses Hono's fastest router, `RegExpRouter`, only when it accepts every
 * route of the app; one refused route puts the whole app on `TrieRouter`. The admin face's row
 * route `/admin/v1/:table/:id` is refused beside the static `/admin/v1/tables`, `/audit` and
 * `/registrations` (a parameter where a literal segment also goes on). Split at `/admin`, the
 * admin routes go to `TrieRouter` and every public face to `RegExpRouter`, while the app keeps
 * one route list: the same paths, answers, metrics labels and OpenAPI document
 * (ARCHITECTURE.md, "Routing").
 *
 * A request goes to one side by its path's first segment, so each side must hold every route
 * that can match the paths it is given: a route whose pattern begins with a literal segment
 * goes to that segment's side only, any other (`/*`, `/:name/…`) to both, in the order added.
 *
 * @example
 * ```ts
 * const app = new Hono({ router: new SegmentRouter("/admin") });
 * ```
 *
 * @module
 */
import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";

/** Hono's default router: `RegExpRouter` if it takes every route added, else `TrieRouter`. */
function defaultRouter<T>(): Router<T> {
  return new SmartRouter<T>({ routers: [new RegExpRouter(), new TrieRouter()] });
}

// What makes a pattern's first segment more than a literal: a parameter, a wildcard, a
// parameter's regular expression, an optional parameter.
const NOT_LITERAL = /[:*{}?]/;

/** Routes under the first segment `prefix` (e.g. `/admin`) in one router, all others in another. */
export class SegmentRouter<T> implements Router<T> {
  /** The routes under the prefix. */
  readonly inside: Router<T>;
  /** All other routes. */
  readonly outside: Router<T>;
  readonly #prefix: string;
  readonly #below: string;

  constructor(prefix: string) {
    if (!/^\/[^/]+$/.test(prefix) || NOT_LITERAL.test(prefix)) {
      throw new TypeError(`Cannot split routes at "${prefix}": expected one literal segment`);
    }
    this.#prefix = prefix;
    this.#below = `${prefix}/`;
    this.inside = defaultRouter();
    this.outside = defaultRouter();
  }

  /** Both routers' names; a `SmartRouter`'s tells which router it chose once it has matched. */
  get name(): string {
    return `SegmentRouter (${this.#prefix}: ${this.inside.name}; others: ${this.outside.name})`;
  }

  add(method: string, path: string, handler: T): void {
    const end = path.indexOf("/", 1);
    const first = end === -1 ? path : path.slice(0, end);
    if (!first.startsWith("/") || NOT_LITERAL.test(first)) {
      this.inside.add(method, path, handler);
      this.outside.add(method, path, handler);
    } else if (first === this.#prefix) this.inside.add(method, path, handler);
    else this.outside.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    return path.startsWith(this.#below) || path === this.#prefix
      ? this.inside.match(method, path)
      : this.outside.match(method, path);
  }
}
