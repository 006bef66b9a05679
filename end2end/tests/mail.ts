import fs from 'node:fs/promises';
import path from 'node:path';
// mailparser ships no type declarations: simpleParser is typed here by hand,
// for the fields these specs read.
const { simpleParser } = require('mailparser') as { simpleParser: (source: Buffer) => Promise<ParsedMail> };

interface ParsedAddress {
  value: { address?: string; name?: string }[];
  text: string;
}

interface ParsedMail {
  subject?: string;
  messageId?: string;
  from?: ParsedAddress;
  text?: string;
  html?: string | false;
}

/**
 * What the real SMTP server (testing/mailsink.py, started by
 * scripts/e2e-server) accepted: one message, parsed.
 */
export interface Email {
  /** The message's number in the sink's folder (NNNNNN.eml), in the order they arrived. */
  number: number;
  /** The SMTP envelope's recipients (RCPT TO): who the message was really sent to. */
  to: string[];
  /** The envelope sender (MAIL FROM). */
  mailFrom: string;
  subject: string;
  messageId: string;
  /** The From header's address, such as no-reply@portal.test. */
  from: string;
  /** The From header's display name, such as "GP online services". */
  fromName: string;
  /** The plain-text part, decoded (quoted-printable and all). */
  text: string;
  /** The HTML part, decoded. Empty if there is none. */
  html: string;
  /** Attached files (an appointment's .ics), decoded. */
  attachments: { filename: string; contentType: string; content: string }[];
}

const repoRoot = path.resolve(__dirname, '..', '..');

/** Where scripts/e2e-server's mail sink keeps messages for this run (the same E2E_PORT rule as the config). */
export const mailFolder = path.join(repoRoot, 'target', `e2e-${process.env.E2E_PORT ?? 3100}`, 'mail');

const POLL_MS = 200;
const DEFAULT_TIMEOUT_MS = 20_000;

/** Parsed messages by number: a message file never changes once it is there. */
const parsed = new Map<number, Email>();

/** The numbers of the messages that have arrived so far, oldest first. */
async function arrivedNumbers(): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(mailFolder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  // The sink writes NNNNNN.json first, then renames NNNNNN.eml.tmp to
  // NNNNNN.eml: once the .eml is there, both files are whole.
  return names
    .filter((name) => /^\d{6}\.eml$/.test(name))
    .map((name) => Number(name.slice(0, 6)))
    .sort((a, b) => a - b);
}

async function readEmail(number: number): Promise<Email> {
  const cached = parsed.get(number);
  if (cached) return cached;
  const base = path.join(mailFolder, String(number).padStart(6, '0'));
  const envelope = JSON.parse(await fs.readFile(`${base}.json`, 'utf8')) as { mail_from: string; rcpt_tos: string[] };
  const mail = await simpleParser(await fs.readFile(`${base}.eml`));
  const sender = mail.from?.value[0] ?? {};
  const email: Email = {
    number,
    to: envelope.rcpt_tos,
    mailFrom: envelope.mail_from,
    subject: mail.subject ?? '',
    messageId: mail.messageId ?? '',
    from: sender.address ?? '',
    fromName: sender.name ?? '',
    text: mail.text ?? '',
    html: mail.html || '',
    attachments: (mail.attachments ?? []).map((a) => ({
      filename: a.filename ?? '',
      contentType: a.contentType,
      content: a.content.toString('utf8'),
    })),
  };
  parsed.set(number, email);
  return email;
}

/**
 * The number of the newest message so far (0 if none). Pass it as
 * `waitForEmail(..., { after })` to wait for a message sent after this point.
 */
export async function lastEmailNumber(): Promise<number> {
  const numbers = await arrivedNumbers();
  return numbers.length ? numbers[numbers.length - 1] : 0;
}

function subjectMatches(subject: string, wanted: string | RegExp): boolean {
  return typeof wanted === 'string' ? subject === wanted : wanted.test(subject);
}

/**
 * Waits (polling every 200 ms, up to 20 s by default) for a message the SMTP
 * server accepted for `to` (matched against the envelope's recipients,
 * ignoring case) whose subject is `subject` (exactly) or matches it, and
 * returns the newest such message. With `after`, only messages that arrived
 * after that number (from `lastEmailNumber()`) count.
 */
export async function waitForEmail(
  to: string,
  subject: string | RegExp,
  opts: { after?: number; timeoutMs?: number } = {},
): Promise<Email> {
  const after = opts.after ?? 0;
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const recipient = to.toLowerCase();
  for (;;) {
    const numbers = (await arrivedNumbers()).filter((n) => n > after).reverse();
    const seen: Email[] = [];
    for (const number of numbers) {
      const email = await readEmail(number);
      if (email.to.some((r) => r.toLowerCase() === recipient) && subjectMatches(email.subject, subject)) {
        return email;
      }
      seen.push(email);
    }
    if (Date.now() > deadline) {
      const arrived = seen.map((e) => `  #${e.number} to ${e.to.join(', ')}: ${e.subject}`).join('\n') || '  (none)';
      throw new Error(
        `No email to ${to} with subject ${String(subject)} arrived within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms ` +
          `(in ${mailFolder}, after #${after}). What did arrive:\n${arrived}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * The first link in the email's plain-text part whose path (with its query)
 * starts with `pathPrefix`, such as "/verify-email?token=". Fails if there
 * is none.
 */
export function linkFrom(email: Email, pathPrefix: string): string {
  const urls = email.text.match(/https?:\/\/[^\s<>"']+/g) ?? [];
  const link = urls.find((url) => {
    const parsedUrl = new URL(url);
    return (parsedUrl.pathname + parsedUrl.search).startsWith(pathPrefix);
  });
  if (!link) {
    throw new Error(`No link starting ${pathPrefix} in the email "${email.subject}". Its links: ${urls.join(', ') || '(none)'}`);
  }
  return link;
}
