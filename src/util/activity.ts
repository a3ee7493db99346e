import { clip } from './clip.js';
import { Var } from './var.js';

/**
 * An Activity is a Var whose value is still being worked out, is known, or failed
 * (Finagle's `Activity`): namers and binding answer with these so that routing can wait for,
 * use, or report an answer that changes over time.
 */
export type ActivityState<T> =
  | { readonly status: 'pending'; readonly why?: string }
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'failed'; readonly error: Error };

export type Activity<T> = Var<ActivityState<T>>;

export const PENDING: ActivityState<never> = Object.freeze({ status: 'pending' });

/** Still pending, saying why when the source knows (a namer over its rate, a watch not listed yet). */
export function pending(why: string | undefined): ActivityState<never> {
  return why === undefined ? PENDING : { status: 'pending', why };
}

export function ok<T>(value: T): ActivityState<T> {
  return { status: 'ok', value };
}

export function failed(error: Error): ActivityState<never> {
  return { status: 'failed', error };
}

/** An Activity that never changes. */
export function constant<T>(state: ActivityState<T>): Activity<T> {
  return new Var(state);
}

/** Longest reason a message quotes from a pending state (a namer's last error may be long). */
export const MAX_WHY_CHARS = 512;

/** Why `state` is still pending, clipped to MAX_WHY_CHARS, for a message; undefined when it does not say. */
export function whyPending(state: ActivityState<unknown>): string | undefined {
  return state.status === 'pending' && state.why !== undefined ? clip(state.why, MAX_WHY_CHARS) : undefined;
}
