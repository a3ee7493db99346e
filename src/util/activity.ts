import { Var } from './var.js';

/**
 * An Activity is a Var whose value is still being worked out, is known, or failed
 * (Finagle's `Activity`): namers and binding answer with these so that routing can wait for,
 * use, or report an answer that changes over time.
 */
export type ActivityState<T> =
  | { readonly status: 'pending' }
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'failed'; readonly error: Error };

export type Activity<T> = Var<ActivityState<T>>;

export const PENDING: ActivityState<never> = Object.freeze({ status: 'pending' });

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
