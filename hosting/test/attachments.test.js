// The attachments module (src/attachments/index.js) without a page: the type of a file, its
// name on the wire, what its bytes are, the checks of addFiles (each refusal said in the
// banner, nothing else changed), the checks before sending, and base64 (made once per Blob).
import { describe, expect, it, vi } from "vitest";
import {
  addFiles,
  contentType,
  encode,
  encodeForRequest,
  fileType,
  goneNotice,
  sendProblem,
  toBase64,
  wireName,
} from "../src/attachments/index.js";
import { DEFAULT_LIMITS, encodedData, messageBytes } from "../src/conversation.js";
import { createStore } from "../src/state.js";

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
const JPEG = [0xff, 0xd8, 0xff, 0xe0, 0, 16];
const png = (name = "shot.png", size = 64, type = "image/png") =>
  new File([new Uint8Array([...PNG, ...new Array(size - PNG.length).fill(7)])], name, { type });
const text = (name, body, type = "") => new File([body], name, { type });

function storeWith(limits = {}, pending = []) {
  return createStore({ limits: { ...DEFAULT_LIMITS, maxRequestBytes: 20 * 1024 * 1024, ...limits }, pending, banner: null, blockedUntil: 0, user: null });
}

describe("the type of a file", () => {
  it.each([
    ["notes.md", "", "text/markdown"],
    ["NOTES.MARKDOWN", "text/x-markdown", "text/markdown"],
    ["table.csv", "application/vnd.ms-excel", "text/csv"],
    ["readme.txt", "", "text/plain"],
    ["photo.HEIC", "", "image/heic"],
    ["photo.heif", "application/octet-stream", "image/heif"],
    ["shot.png", "IMAGE/PNG", "image/png"],
    ["data.json", "application/json", "application/json"],
    ["program", "", "unknown"],
  ])("%s typed %o by the browser is %s", (name, type, expected) => {
    expect(fileType(text(name, "x", type))).toBe(expected);
  });
});

describe("the name on the wire", () => {
  it("keeps an ordinary name", () => {
    expect(wireName("Quarterly report (final).pdf", "application/pdf")).toBe("Quarterly report (final).pdf");
  });

  it("drops control characters and names a nameless file by its type", () => {
    expect(wireName("a\u0000b\nc.txt", "text/plain")).toBe("abc.txt");
    expect(wireName("", "image/png")).toBe("attachment.png");
    expect(wireName("  \u0007 ", "text/markdown")).toBe("attachment.md");
  });

  it("shortens a name over 255 characters (code points) and keeps its extension", () => {
    const name = wireName(`${"😀".repeat(300)}.png`, "image/png");
    expect(Array.from(name)).toHaveLength(255);
    expect(name.endsWith("…png") || name.endsWith("….png")).toBe(true);
    expect(name).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // no half of a pair
  });
});

describe("what the bytes are", () => {
  const bytes = (list) => new Uint8Array(list);
  it("knows the image signatures, PDF and UTF-8 text", () => {
    expect(contentType(bytes(PNG), "image/png")).toBe("image/png");
    expect(contentType(bytes(JPEG), "image/png")).toBe("image/jpeg");
    expect(contentType(bytes([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50]), "image/webp")).toBe("image/webp");
    expect(contentType(new TextEncoder().encode("junk\n%PDF-1.7\n"), "application/pdf")).toBe("application/pdf");
    expect(contentType(new TextEncoder().encode("Grüße, 東京"), "text/plain")).toBe("text/plain");
  });

  // An ISO-BMFF file start: a `ftyp` box of the major brand and the compatible ones, then junk.
  const ftyp = (major, ...compatible) => {
    const ascii = (text) => [...text].map((c) => c.charCodeAt(0));
    const size = 16 + 4 * compatible.length;
    return bytes([0, 0, 0, size, ...ascii("ftyp"), ...ascii(major), 0, 0, 0, 0, ...compatible.flatMap(ascii), 0, 0, 0, 8]);
  };

  it("reads HEIC and HEIF brands as the server does, and refuses AVIF", () => {
    expect(contentType(ftyp("heic", "mif1", "heic"), "image/heic")).toBe("image/heic");
    expect(contentType(ftyp("heic", "mif1", "heic"), "image/heif")).toBe("image/heif"); // HEIC is a HEIF
    expect(contentType(ftyp("mif1", "mif1"), "image/heif")).toBe("image/heif");
    expect(contentType(ftyp("mif1", "mif1"), "image/heic")).toBe("image/heif"); // sent as what it is
    expect(contentType(ftyp("avif", "avif", "mif1", "miaf"), "image/heif")).toBeNull();
    expect(contentType(bytes([0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70, 0x68, 0x65, 0x69, 0x63]), "image/heic")).toBeNull(); // cut short
  });

  it("takes text that quotes a PDF header as text, as the server does", () => {
    const note = new TextEncoder().encode("How to spot a PDF: it starts with %PDF-1.7\n");
    expect(contentType(note, "text/plain")).toBe("text/plain");
    expect(contentType(note, "application/pdf")).toBe("application/pdf");
  });

  it("refuses text that is not UTF-8 or has NUL bytes", () => {
    expect(contentType(bytes([0xff, 0xfe, 0x41, 0x00]), "text/plain")).toBeNull();
    expect(contentType(bytes([0xc3]), "text/csv")).toBeNull();
    expect(contentType(bytes([0x41, 0x00, 0x42]), "text/markdown")).toBeNull();
  });
});

describe("addFiles", () => {
  it("adds a file as {id, name, mimeType, size, blob}, the bytes read into memory", async () => {
    const store = storeWith();
    await addFiles(store, [png("shot.png", 100)]);
    const [attachment] = store.get().pending;
    expect(attachment).toMatchObject({ name: "shot.png", mimeType: "image/png", size: 100 });
    expect(attachment.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(attachment.blob).toBeInstanceOf(Blob);
    expect(attachment.blob.type).toBe("image/png");
    expect(new Uint8Array(await attachment.blob.arrayBuffer()).slice(0, 8)).toEqual(new Uint8Array(PNG.slice(0, 8)));
    expect(store.get().banner).toBeNull();
  });

  it("infers the type of .md, .csv and .txt files the browser does not type", async () => {
    const store = storeWith();
    await addFiles(store, [text("a.md", "# A"), text("b.csv", "x,y\n1,2", "application/vnd.ms-excel"), text("c.txt", "plain")]);
    expect(store.get().pending.map((a) => a.mimeType)).toEqual(["text/markdown", "text/csv", "text/plain"]);
  });

  it("refuses a type the server does not take, saying which are allowed", async () => {
    const store = storeWith({ attachmentTypes: ["image/png", "application/pdf", "text/markdown"] });
    await addFiles(store, [text("run.exe", "MZ", "application/x-msdownload")]);
    expect(store.get().pending).toEqual([]);
    expect(store.get().banner).toMatchObject({ code: "attachment", message: "“run.exe” can't be attached: this type of file isn't accepted. Allowed: PNG, PDF, .md." });
  });

  it("refuses a file over maxAttachmentBytes and an empty one, keeping the others", async () => {
    const store = storeWith({ maxAttachmentBytes: 1000 });
    await addFiles(store, [png("big.png", 1500), text("empty.txt", ""), png("ok.png", 200)]);
    expect(store.get().pending.map((a) => a.name)).toEqual(["ok.png"]);
    expect(store.get().banner.message).toBe("“big.png” is too large (1.5 KB): the limit is 1000 B per file.");
    expect(store.get().banner.detail).toBe("“empty.txt” is empty.");
  });

  it("attaches at most maxAttachments, counting those already pending", async () => {
    const store = storeWith({ maxAttachments: 3 });
    await addFiles(store, [png("1.png"), png("2.png")]);
    await addFiles(store, [png("3.png"), png("4.png"), png("5.png")]);
    expect(store.get().pending.map((a) => a.name)).toEqual(["1.png", "2.png", "3.png"]);
    expect(store.get().banner.message).toBe("A message can carry at most 3 files: 2 were not attached.");
  });

  it("says attachments are off when maxAttachments is 0", async () => {
    const store = storeWith({ maxAttachments: 0 });
    await addFiles(store, [png()]);
    expect(store.get().pending).toEqual([]);
    expect(store.get().banner.message).toBe("Attachments are turned off here.");
  });

  it("refuses content that is not of the file's type, but sends a mislabeled image as what it is", async () => {
    const store = storeWith();
    const jpegNamedPng = new File([new Uint8Array([...JPEG, 1, 2, 3])], "photo.png", { type: "image/png" });
    await addFiles(store, [text("fake.pdf", "not a pdf", "application/pdf"), jpegNamedPng, new File([new Uint8Array([0xff, 0xfe, 0x41])], "utf16.txt", { type: "text/plain" })]);
    expect(store.get().pending.map((a) => [a.name, a.mimeType])).toEqual([["photo.png", "image/jpeg"]]);
    expect(store.get().banner.message).toBe("“fake.pdf” can't be attached: its content is not a PDF.");
    expect(store.get().banner.detail).toBe("“utf16.txt” can't be attached: its content is not UTF-8 text.");
  });

  it("refuses a file that would make the message too large to send", async () => {
    const store = storeWith({ maxRequestBytes: 4096 + 512 });
    await addFiles(store, [png("a.png", 2000), png("b.png", 2000)]);
    expect(store.get().pending.map((a) => a.name)).toEqual(["a.png"]);
    expect(store.get().banner.message).toBe("“b.png” doesn't fit in one message: together, its files can be at most about 3 KB.");
  });

  it("says a file that cannot be read", async () => {
    const store = storeWith();
    const broken = png("gone.png");
    broken.arrayBuffer = () => Promise.reject(new DOMException("gone", "NotReadableError"));
    await addFiles(store, [broken]);
    expect(store.get().pending).toEqual([]);
    expect(store.get().banner.message).toBe("“gone.png” could not be read.");
  });
});

describe("the checks before sending", () => {
  const attachment = (name, size) => ({ id: name, name, mimeType: "image/png", size, blob: new Blob([new Uint8Array(size)]) });
  const limits = { ...DEFAULT_LIMITS, maxRequestBytes: 10_000, maxAttachments: 2, maxAttachmentBytes: 5000 };

  it("passes what fits", () => {
    expect(sendProblem([attachment("a.png", 3000)], "hi", limits)).toBe("");
  });

  it("refuses more files than the server takes now, or when attachments are off", () => {
    const three = ["a", "b", "c"].map((n) => attachment(`${n}.png`, 10));
    expect(sendProblem(three, "", limits)).toBe("A message can carry at most 2 files. Remove 1 to send it.");
    expect(sendProblem(three, "", { ...limits, maxAttachments: 0 })).toBe("Attachments are turned off here. Remove them to send the message.");
  });

  it("refuses a file over the size limit", () => {
    expect(sendProblem([attachment("big.png", 6000)], "", limits)).toBe("“big.png” is too large (5.9 KB): the limit is 4.9 KB per file. Remove it to send the message.");
  });

  it("refuses files whose request alone is over maxRequestBytes (the same count buildRequest makes)", () => {
    const files = [attachment("a.png", 4000), attachment("b.png", 4000)];
    expect(messageBytes("", files)).toBeGreaterThan(limits.maxRequestBytes - 512);
    expect(sendProblem(files, "", limits)).toBe("These files are too large to send together (7.8 KB; one message can carry about 6.9 KB). Remove one to send the message.");
  });

  it("refuses a blank message whose files are no longer on this device", () => {
    const gone = { id: "g", name: "g.png", mimeType: "image/png", size: 5, dropped: true };
    expect(sendProblem([gone], "", limits)).toMatch(/no longer kept on this device, so it can't be sent again/);
    expect(sendProblem([gone], "text", limits)).toBe("");
    expect(goneNotice(1)).toBe("One file of this message is no longer kept on this device: sent without it.");
    expect(goneNotice(2)).toBe("2 files of this message are no longer kept on this device: sent without them.");
  });
});

describe("base64", () => {
  it("is standard base64 with padding, for any length (chunk boundaries included)", () => {
    for (const size of [0, 1, 2, 3, 4, 5, 49151, 49152, 49153, 200_000]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 7919) % 256);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString("base64"));
    }
  });

  it("encodes each Blob once, however often the conversation is sent", async () => {
    const blob = new Blob([new Uint8Array([1, 2, 3, 4])]);
    const read = vi.spyOn(blob, "arrayBuffer");
    await encode([blob]);
    await encode([blob]);
    expect(read).toHaveBeenCalledTimes(1);
    expect(encodedData(blob)).toBe("AQIDBA==");
  });

  it("rejects when the message's own file cannot be read; a history file is just left out", async () => {
    const broken = new Blob([new Uint8Array([1])]);
    broken.arrayBuffer = () => Promise.reject(new DOMException("gone", "NotReadableError"));
    const own = { name: "a.png", mimeType: "image/png", size: 1, blob: new Blob([new Uint8Array([9])]) };
    expect(await encodeForRequest([own], [broken])).toEqual([{ name: "a.png", mimeType: "image/png", data: "CQ==" }]);
    expect(encodedData(broken)).toBeUndefined();
    await expect(encodeForRequest([{ ...own, blob: broken }], [])).rejects.toMatchObject({ name: "AttachmentReadError" });
  });
});
