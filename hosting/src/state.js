// The page's state: one frozen object, replaced (never mutated) by set(). Each UI module
// subscribes and renders its own part; a render never calls set().

/** get() -> state; set(patch) merges and notifies when a value changed; subscribe(fn) -> unsubscribe. */
export function createStore(initial = {}) {
  let state = Object.freeze({ ...initial });
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      if (Object.keys(patch).every((key) => Object.is(state[key], patch[key]))) return;
      state = Object.freeze({ ...state, ...patch });
      for (const fn of [...listeners]) if (listeners.has(fn)) fn(state);
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** render(state) now, then after every set() that changes one of `keys` (Object.is). */
export function watch(store, keys, render) {
  let seen = store.get();
  render(seen);
  return store.subscribe((state) => {
    if (keys.every((key) => Object.is(state[key], seen[key]))) return;
    seen = state;
    render(state);
  });
}
