/**
 * Whether the instance is serving: how many requests began and how many are still being
 * answered. Work that stops every request for a moment (the memory-reducing collection after a
 * whole-table swap, src/store.ts) waits for a quiet spell instead of stalling the requests of a
 * busy instance. Counting costs two integer updates per request.
 *
 * @example
 * ```ts
 * const activity = new Activity();
 * Deno.serve(activity.track(handler));
 * const mark = activity.begun;
 * // later: no request began since `mark`, and none is running
 * activity.quietSince(mark);
 * ```
 *
 * @module
 */

/** A request handler as `Deno.serve` calls it. */
export type TrackedHandler<I> = (request: Request, info: I) => Response | Promise<Response>;

/** Counts the requests a handler is given and those it has not answered yet. */
export class Activity {
  #begun = 0;
  #running = 0;

  /** Requests begun since the start. */
  get begun(): number {
    return this.#begun;
  }

  /** Requests whose response has not been returned yet. */
  get running(): number {
    return this.#running;
  }

  /** Whether no request began since `mark` (an earlier {@linkcode Activity.begun}) and none runs. */
  quietSince(mark: number): boolean {
    return this.#begun === mark && this.#running === 0;
  }

  /**
   * `handler`, counted: a request runs from the call until its response is returned (a
   * streamed body may still be flowing then).
   */
  track<I>(handler: TrackedHandler<I>): TrackedHandler<I> {
    return (request, info) => {
      this.#begun++;
      this.#running++;
      let answer: Response | Promise<Response>;
      try {
        answer = handler(request, info);
      } catch (error) {
        this.#running--;
        throw error;
      }
      if (!(answer instanceof Promise)) {
        this.#running--;
        return answer;
      }
      return answer.finally(() => this.#running--);
    };
  }
}
