// The queue of a history session (session.js). Every database call of one signed-in session
// runs after everything queued before it, in order; queued writes are counted while they wait
// (`s.outstanding`: a reload runs only after this tab's own writes), and the connection is closed
// once the session has ended and no answer is still to be recorded (`s.handles`).

export const noop = () => {};

/** The error of a call made when history is not available; `message` says why, if known. */
export const unavailable = (message) => Object.assign(new Error(message || "History isn't available in this browser."), { code: "unavailable" });

/** Close once the queue is empty and no answer is still to be recorded (a stopped answer's settle). */
export function closeWhenIdle(s) {
  if (!s.closed || s.handles > 0) return;
  s.queue.then(() => {
    if (!s.history || s.shut || s.handles > 0) return;
    s.shut = true;
    s.sync.close();
    s.history.close();
  });
}

/**
 * Run `fn(history)` after everything queued on session `s` before it; rejects with its error, or
 * with unavailable(`store`'s historyError) when the history could not be opened or was wiped.
 */
export function task(store, s, fn, write) {
  if (write) s.outstanding += 1;
  const run = s.queue.then(() => {
    if (!s.history || s.wiped) throw unavailable(store.get().historyError);
    return fn(s.history);
  });
  s.queue = run.then(noop, noop).then(() => {
    if (write) s.outstanding -= 1;
  });
  return run;
}
