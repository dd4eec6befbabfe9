// The browser's storage for the history: usage (navigator.storage.estimate) and the one request
// for persistent storage (navigator.storage.persist), made once history holds data.

/** {usage, quota} in bytes from navigator.storage.estimate(), or null where unavailable. */
export async function storageUsage() {
  const storage = globalThis.navigator?.storage;
  if (typeof storage?.estimate !== "function") return null;
  const { usage = 0, quota = 0 } = await storage.estimate();
  return { usage, quota };
}

/**
 * persistOnce() for one history: asks for persistent storage once it holds data (call after a
 * write, i.e. after a user action; cheap to repeat). Resolves true/false (granted or not), or
 * null (unavailable, or no data yet: it asks again next time).
 * @param {() => Promise<number>} count  how many conversations the history holds
 */
export function createPersistOnce(count) {
  let persisting = null;
  // The storage manager of the page this history was opened in (a page never gets another one;
  // a test's stand-in then reaches only the histories opened after it was put in place).
  const storage = globalThis.navigator?.storage;
  return function persistOnce() {
    if (persisting) return persisting;
    if (typeof storage?.persist !== "function") return Promise.resolve(null);
    persisting = (async () => {
      if ((await count()) === 0) return null;
      if (typeof storage.persisted === "function" && (await storage.persisted())) return true;
      return storage.persist();
    })();
    persisting.then(
      (result) => {
        if (result === null) persisting = null;
      },
      () => {
        persisting = null;
      },
    );
    return persisting;
  };
}
