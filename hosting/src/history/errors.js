// Typed errors of the on-device history (issue #9), each with a message a person can read as is.
// HistoryFullError: the browser refused a write for lack of space (QuotaExceededError): the
// write did not happen, and the caller must say so. ImportError: a refused import file.

export class HistoryError extends Error {
  /**
   * @param {"not_found"|"conflict"|"invalid"|"closed"|"unsupported"} code
   * @param {string} message
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = "HistoryError";
    this.code = code;
  }
}

export class HistoryFullError extends HistoryError {
  constructor(options) {
    super(
      "history_full",
      "Storage on this device is full, so this wasn't saved to your history. Delete or export old conversations to make room.",
      options,
    );
    this.name = "HistoryFullError";
  }
}

export class ImportError extends Error {
  constructor(message) {
    super(message);
    this.name = "ImportError";
    this.code = "import_refused";
  }
}

/** True for the browsers' "out of space" errors (QuotaExceededError; legacy code 22). */
export function isQuotaError(error) {
  return Boolean(error && (error.name === "QuotaExceededError" || error.code === 22 || error.name === "NS_ERROR_DOM_QUOTA_REACHED"));
}

/**
 * The error a failed write transaction should surface: HistoryFullError when the request or the
 * transaction failed for lack of space (Chrome aborts the transaction with tx.error =
 * QuotaExceededError and fails pending requests with AbortError), else the original error.
 */
export function writeError(error, txError = null) {
  if (error instanceof HistoryError) return error;
  if (isQuotaError(error) || isQuotaError(txError)) return new HistoryFullError({ cause: isQuotaError(error) ? error : txError });
  return error;
}
