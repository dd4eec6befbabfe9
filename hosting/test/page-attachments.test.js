// @vitest-environment jsdom
// Attachments on the whole page (index.html + main.js) in jsdom, the network, runtime config and
// Firebase Auth stood in for: paste, drop and the file picker; the chips and their removal; a
// blank message sent with its files; thumbnails in the conversation and their blob: URLs
// revoked when they leave; the checks at send time; edit and regenerate keeping the files.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PAGE_BODY as BODY, $, $$, stubFrames } from "./page-harness.js";

vi.mock("../src/config.js", () => ({ loadRuntimeConfig: vi.fn() }));
vi.mock("../src/auth.js", () => ({ startAuth: vi.fn() }));
vi.mock("../src/api.js", async (importOriginal) => ({
  ...(await importOriginal()),
  sendChat: vi.fn(),
  fetchMe: vi.fn(),
  revokeSessions: vi.fn(),
}));

const LIMITS = { maxMessageChars: 100, maxHistoryMessages: 40, maxRequestBytes: 1024 * 1024 };
const ME = { quota: { requests: [{ limit: "3 per 1 minute", remaining: 3, resetSeconds: 60 }], tokens: { remaining: 200_000, dailyLimit: 200_000 } } };
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const settle = async () => {
  for (let i = 0; i < 5; i += 1) await tick();
};
const user = (uid = "u1") => ({ uid, displayName: "Ada", email: `${uid}@example.com`, photoURL: null, getIdToken: async () => `token-${uid}` });
const press = (el, key) => el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
const pngFile = (name = "image.png", size = 40) => new File([new Uint8Array([...PNG, ...new Array(size - PNG.length).fill(1)])], name, { type: "image/png" });
const base64 = (file) => file.arrayBuffer().then((buffer) => Buffer.from(buffer).toString("base64"));

/** What a paste of `files` (a screenshot: no text) into the message box looks like. */
function paste(files, types = ["Files"]) {
  const event = new Event("paste", { bubbles: true, cancelable: true });
  Object.defineProperty(event, "clipboardData", { value: { files, types } });
  $("composer-input").dispatchEvent(event);
  return event;
}
/** Files chosen in the picker the attach button opens. */
function pick(files) {
  const input = $("attach-input");
  Object.defineProperty(input, "files", { value: files, configurable: true });
  input.dispatchEvent(new Event("change", { bubbles: true }));
}
const chips = () => $$("attachment-chip");
const waitChips = (count) => vi.waitFor(() => expect(chips()).toHaveLength(count));

let api;
let handlers;
let made;
let revoked;

function pendingAnswer() {
  const call = {};
  api.sendChat.mockImplementationOnce((options) => {
    call.options = options;
    return new Promise((resolve, reject) => {
      call.resolve = resolve;
      options.signal.addEventListener("abort", () => reject(new DOMException("Aborted", "AbortError")));
    });
  });
  return call;
}

async function openPage({ limits = LIMITS, signedIn = user() } = {}) {
  vi.resetModules();
  document.body.innerHTML = BODY; // the page's own, trusted markup
  api = await import("../src/api.js");
  const config = await import("../src/config.js");
  const authModule = await import("../src/auth.js");
  config.loadRuntimeConfig.mockResolvedValue({ firebase: {}, chatUrl: "http://127.0.0.1:1/", authEmulatorUrl: null, appCheckSiteKey: null, limits });
  const auth = { app: {}, signIn: vi.fn(), signOut: vi.fn(), token: vi.fn(async () => "token") };
  authModule.startAuth.mockImplementation((_config, h) => {
    handlers = h;
    return auth;
  });
  api.fetchMe.mockResolvedValue(ME);
  await import("../src/main.js");
  await settle();
  handlers.onUser(signedIn);
  await settle();
}

async function sendWithAttachment(text = "", file = pngFile()) {
  paste([file]);
  await waitChips(1);
  const answer = pendingAnswer();
  $("composer-input").value = text;
  $("composer-input").dispatchEvent(new Event("input", { bubbles: true }));
  press($("composer-input"), "Enter");
  await vi.waitFor(() => expect(answer.options).toBeDefined());
  return answer;
}

beforeEach(() => {
  stubFrames();
  sessionStorage.clear();
  made = [];
  revoked = [];
  vi.spyOn(URL, "createObjectURL").mockImplementation(() => {
    made.push(`blob:http://127.0.0.1/${made.length + 1}`);
    return made.at(-1);
  });
  vi.spyOn(URL, "revokeObjectURL").mockImplementation((url) => revoked.push(url));
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.resetAllMocks();
});

describe("attaching", () => {
  it("pastes a screenshot as a chip with its thumbnail, name, size and a Remove button", async () => {
    await openPage();
    expect($("attachment-chips").hidden).toBe(true);
    const event = paste([pngFile("image.png", 2048)]);
    expect(event.defaultPrevented).toBe(true); // nothing but a file: nothing to paste as text
    await waitChips(1);
    const [chip] = chips();
    expect($("attachment-chips").hidden).toBe(false);
    expect($("attachment-thumb", chip).tagName).toBe("IMG");
    expect($("attachment-thumb", chip).getAttribute("src")).toBe(made[0]);
    expect(chip.querySelector(".attachment-name").textContent).toBe("image.png");
    expect(chip.textContent).toContain("image.png — 2 KB");
    expect($("attachment-remove", chip).getAttribute("aria-label")).toBe("Remove image.png");
    expect($("send").disabled).toBe(false); // a blank message may go with a file
  });

  it("pastes text normally when the clipboard also has text", async () => {
    await openPage();
    const event = paste([pngFile()], ["text/plain", "Files"]);
    expect(event.defaultPrevented).toBe(false);
    await waitChips(1);
  });

  it("removes a chip before sending: its URL revoked, the focus back in the box", async () => {
    await openPage();
    paste([pngFile("a.png"), pngFile("b.png")]);
    await waitChips(2);
    $("attachment-remove", chips()[0]).click();
    expect(chips().map((c) => c.querySelector(".attachment-name").textContent)).toEqual(["b.png"]);
    expect(revoked).toEqual([made[0]]);
    expect(document.activeElement).toBe($("attachment-remove", chips()[0])); // the next chip's button
    $("attachment-remove", chips()[0]).click();
    expect(chips()).toHaveLength(0);
    expect($("attachment-chips").hidden).toBe(true);
    expect(revoked).toEqual(made);
    expect(document.activeElement).toBe($("composer-input"));
    expect($("send").disabled).toBe(true);
  });

  it("opens the picker from the button, with the accepted types and extensions", async () => {
    await openPage();
    const click = vi.spyOn($("attach-input"), "click").mockImplementation(() => {});
    $("attach").click();
    expect(click).toHaveBeenCalledTimes(1);
    const accept = $("attach-input").accept.split(",");
    expect(accept).toEqual(expect.arrayContaining(["image/png", "application/pdf", "text/markdown", ".md", ".csv", ".heic"]));
    expect($("attach-input").multiple).toBe(true);
  });

  it("refuses a picked file of a type not allowed, with a clear message, and attaches nothing", async () => {
    await openPage();
    pick([new File(["MZ"], "setup.exe", { type: "application/x-msdownload" })]);
    await vi.waitFor(() => expect($("error-banner").hidden).toBe(false));
    expect($("error-banner").dataset.code).toBe("attachment");
    expect($("error-message").textContent).toBe(
      "“setup.exe” can't be attached: this type of file isn't accepted. Allowed: PNG, JPEG, WebP, HEIC, HEIF, PDF, .txt, .md, .csv.");
    expect(chips()).toHaveLength(0);
    expect($("send").disabled).toBe(true);
    expect(api.sendChat).not.toHaveBeenCalled();
  });

  it("attaches files dropped on the page, highlighting the composer while dragging", async () => {
    await openPage();
    const files = [new File(["# Notes"], "notes.md", { type: "" })];
    const drag = (type) => {
      const event = new Event(type, { bubbles: true, cancelable: true });
      Object.defineProperty(event, "dataTransfer", { value: { types: ["Files"], files, dropEffect: "none" } });
      document.body.dispatchEvent(event);
      return event;
    };
    expect(drag("dragover").defaultPrevented).toBe(true); // the tab does not open the file
    expect($("composer").classList.contains("is-dragging")).toBe(true);
    expect(drag("drop").defaultPrevented).toBe(true);
    expect($("composer").classList.contains("is-dragging")).toBe(false);
    await waitChips(1);
    expect($("attachment-icon", chips()[0])).not.toBeNull(); // not an image: a file icon
    expect(chips()[0].textContent).toContain("notes.md — 7 B");
  });

  it("hides the button when the server turns attachments off, and says so on a paste", async () => {
    await openPage({ limits: { ...LIMITS, maxAttachments: 0 } });
    expect($("attach").hidden).toBe(true);
    paste([pngFile()]);
    await vi.waitFor(() => expect($("error-message").textContent).toBe("Attachments are turned off here."));
    expect(chips()).toHaveLength(0);
  });
});

describe("sending", () => {
  it("sends a blank message with its image; the thumbnail is in the conversation, the chips cleared", async () => {
    await openPage();
    const file = pngFile("cat.png", 300);
    const answer = await sendWithAttachment("", file);
    expect(answer.options.body).toEqual({ message: "", history: [], attachments: [{ name: "cat.png", mimeType: "image/png", data: await base64(file) }] });
    expect(chips()).toHaveLength(0);
    expect($("attachment-chips").hidden).toBe(true);
    expect(revoked).toEqual([made[0]]); // the chip's URL
    const [question] = $$("message");
    await vi.waitFor(() => expect($("message-image", question)).not.toBeNull());
    expect($("message-image", question).getAttribute("src")).toBe(made[1]);
    expect($("message-image", question).alt).toBe("cat.png");
    expect($("message-attachment", question).dataset.kind).toBe("image");

    answer.options.onDelta("A cat.");
    answer.resolve({ finishReason: "STOP" });
    await settle();
    // New chat: the conversation leaves the page, and its thumbnail's URL with it.
    $("new-chat").click();
    await settle();
    expect(revoked).toEqual([made[0], made[1]]);
  });

  it("shows other files as chips in the message", async () => {
    await openPage();
    const answer = await sendWithAttachment("Summarize", new File(["a,b\n1,2"], "data.csv", { type: "text/csv" }));
    expect(answer.options.body.attachments).toEqual([{ name: "data.csv", mimeType: "text/csv", data: btoa("a,b\n1,2") }]);
    const [question] = $$("message");
    await vi.waitFor(() => expect($("message-attachment", question)).not.toBeNull());
    expect($("message-attachment", question).dataset.kind).toBe("file");
    expect($("message-attachment", question).textContent).toBe("data.csv — 7 B");
  });

  it("sends the history's attachments, the oldest left out first to fit, and says so", async () => {
    await openPage({ limits: { ...LIMITS, maxRequestBytes: 64 * 1024 } });
    const first = await sendWithAttachment("First", pngFile("first.png", 30_000));
    first.options.onDelta("One.");
    first.resolve({ finishReason: "STOP" });
    await settle();
    const second = await sendWithAttachment("Second", pngFile("second.png", 30_000));
    // 2 × 40,000 bytes of base64 do not fit in 64 KiB: the history's image goes, its text stays.
    expect(second.options.body.history).toEqual([{ role: "user", text: "First" }, { role: "model", text: "One." }]);
    expect(second.options.body.attachments).toHaveLength(1);
    expect($("error-banner").dataset.code).toBe("history_trimmed");
    expect($("error-message").textContent).toBe("This conversation is long: Gemini sees only its latest part. The oldest attachment was left out of this request.");
    second.options.onDelta("Two.");
    second.resolve({ finishReason: "STOP" });
    await settle();
    const third = await sendWithAttachment("Third", new File(["tiny"], "t.txt", { type: "text/plain" }));
    expect(third.options.body.history[2]).toEqual({ role: "user", text: "Second", attachments: [{ name: "second.png", mimeType: "image/png", data: expect.any(String) }] });
  });

  it("refuses files that no longer fit the server's limits, and changes nothing", async () => {
    await openPage();
    paste([pngFile("a.png", 3000), pngFile("b.png", 3000)]);
    await waitChips(2);
    // /api/auth tells smaller limits for the next account.
    api.fetchMe.mockResolvedValueOnce({ ...ME, chat: { models: [{ id: "gemini-2.5-flash", weight: 1 }], limits: { maxRequestBytes: 4096 } } });
    handlers.onUser(user("u2"));
    await settle();
    press($("composer-input"), "Enter");
    expect($("error-banner").dataset.code).toBe("attachment");
    expect($("error-message").textContent).toBe("These files are too large to send together (5.9 KB; one message can carry about 2.6 KB). Remove one to send the message.");
    expect(chips()).toHaveLength(2);
    expect($$("message")).toHaveLength(0);
    expect(api.sendChat).not.toHaveBeenCalled();

    api.fetchMe.mockResolvedValueOnce({ ...ME, chat: { models: [{ id: "gemini-2.5-flash", weight: 1 }], limits: { maxRequestBytes: 1 << 20, maxAttachments: 1 } } });
    handlers.onUser(user("u3"));
    await settle();
    press($("composer-input"), "Enter");
    expect($("error-message").textContent).toBe("A message can carry at most 1 file. Remove 1 to send it.");
    expect(api.sendChat).not.toHaveBeenCalled();
  });

  it("regenerates and edits with the files of the message sent again", async () => {
    await openPage();
    const file = pngFile("chart.png", 500);
    const data = await base64(file);
    const first = await sendWithAttachment("Explain", file);
    first.options.onDelta("It rises.");
    first.resolve({ finishReason: "STOP" });
    await settle();

    const again = pendingAnswer();
    $("regenerate").click();
    await vi.waitFor(() => expect(again.options).toBeDefined());
    expect(again.options.body).toEqual({ message: "Explain", history: [], attachments: [{ name: "chart.png", mimeType: "image/png", data }] });
    again.options.onDelta("It goes up.");
    again.resolve({ finishReason: "STOP" });
    await settle();

    $("edit").click();
    await settle();
    expect($("edit-attachments").textContent).toBe("Sent again with its attachment.");
    $("edit-input").value = "   "; // blank: allowed, the file is the question
    const edited = pendingAnswer();
    $("edit-save").click();
    await vi.waitFor(() => expect(edited.options).toBeDefined());
    expect(edited.options.body).toEqual({ message: "", history: [], attachments: [{ name: "chart.png", mimeType: "image/png", data }] });
    await vi.waitFor(() => expect($("message-image", $$("message")[0])).not.toBeNull());
  });

  it("gives a signed-out message back to the box with its files when the server asks for a sign-in", async () => {
    await openPage({ signedIn: null });
    const { ApiError } = await import("../src/errors.js");
    paste([pngFile("later.png")]);
    await waitChips(1);
    api.sendChat.mockRejectedValueOnce(new ApiError("unauthenticated"));
    $("composer-input").value = "Look";
    $("composer-input").dispatchEvent(new Event("input", { bubbles: true }));
    press($("composer-input"), "Enter");
    await vi.waitFor(() => expect(chips()).toHaveLength(1));
    expect($("composer-input").value).toBe("Look");
    expect($$("message")).toHaveLength(0);
  });
});

describe("the trimmed notice", () => {
  it("names the exchanges and the attachments left out", async () => {
    const { trimmedNotice } = await import("../src/ui/chat.js");
    const said = (d, a) => trimmedNotice(d, a).replace("This conversation is long: Gemini sees only its latest part. ", "");
    expect(said(1, 0)).toBe("The oldest exchange was left out of this request.");
    expect(said(3, 0)).toBe("The oldest 3 exchanges were left out of this request.");
    expect(said(0, 1)).toBe("The oldest attachment was left out of this request.");
    expect(said(0, 2)).toBe("The oldest 2 attachments were left out of this request.");
    expect(said(1, 1)).toBe("The oldest exchange and 1 attachment were left out of this request.");
    expect(said(2, 3)).toBe("The oldest 2 exchanges and 3 attachments were left out of this request.");
  });
});
