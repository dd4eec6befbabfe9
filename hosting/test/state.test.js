import { describe, expect, it, vi } from "vitest";
import { createStore, watch } from "../src/state.js";

describe("createStore", () => {
  it("gets, merges a patch into a new frozen state, and notifies", () => {
    const store = createStore({ a: 1, b: [] });
    const first = store.get();
    const seen = [];
    store.subscribe((state) => seen.push(state));
    store.set({ a: 2 });
    expect(store.get()).toEqual({ a: 2, b: first.b });
    expect(store.get()).not.toBe(first);
    expect(first.a).toBe(1); // the old state is never changed
    expect(Object.isFrozen(store.get())).toBe(true);
    expect(seen).toEqual([store.get()]);
  });

  it("does not notify when nothing changed", () => {
    const list = [];
    const store = createStore({ a: 1, list });
    const fn = vi.fn();
    store.subscribe(fn);
    store.set({ a: 1, list });
    store.set({});
    expect(fn).not.toHaveBeenCalled();
    store.set({ list: [] }); // a new array is a change
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("unsubscribes", () => {
    const store = createStore({ a: 0 });
    const fn = vi.fn();
    const off = store.subscribe(fn);
    store.set({ a: 1 });
    off();
    store.set({ a: 2 });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("gives every listener the newest state when a listener sets during a notification", () => {
    const store = createStore({ a: 0, b: 0 });
    store.subscribe((state) => {
      if (state.a === 1) store.set({ b: 1 });
    });
    const seen = [];
    store.subscribe((state) => seen.push({ ...state }));
    store.set({ a: 1 });
    expect(seen.at(-1)).toEqual({ a: 1, b: 1 });
    expect(seen.every((state) => state.b === 1)).toBe(true);
  });

  it("does not call a listener removed during a notification", () => {
    const store = createStore({ a: 0 });
    const later = vi.fn();
    let off = null;
    store.subscribe(() => off());
    off = store.subscribe(later);
    store.set({ a: 1 });
    expect(later).not.toHaveBeenCalled();
  });
});

describe("watch", () => {
  it("renders now, then only when one of its keys changes", () => {
    const store = createStore({ a: 1, b: 1 });
    const render = vi.fn();
    const off = watch(store, ["a"], render);
    expect(render).toHaveBeenCalledTimes(1);
    expect(render).toHaveBeenLastCalledWith(store.get());
    store.set({ b: 2 });
    expect(render).toHaveBeenCalledTimes(1);
    store.set({ a: 2 });
    expect(render).toHaveBeenCalledTimes(2);
    expect(render.mock.lastCall[0]).toEqual({ a: 2, b: 2 });
    off();
    store.set({ a: 3 });
    expect(render).toHaveBeenCalledTimes(2);
  });
});
