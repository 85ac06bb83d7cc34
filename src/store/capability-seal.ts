import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * A capability: a random secret handed to a client inside a token (an async job id, a hosted result
 * URL). The database keeps only `idHash` (to find the row) and what was sealed under `key`; the
 * secret itself is never stored, so whoever reads the database cannot open a result.
 */
export interface Capability {
  /** What the client holds: `prefix` + 43 base64url characters (32 random bytes). */
  readonly token: string;
  /** Lowercase hex SHA-256 of the secret under the "id" label: the row's key in the database. */
  readonly idHash: string;
  /** AES-256-GCM key derived from the secret under the "seal" label. */
  readonly key: Buffer;
}

const SECRET_BYTES = 32;
const SECRET_CHARS = 43; // base64url of 32 bytes, unpadded
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const derive = (label: string, secret: Buffer) => createHash('sha256').update(`cig-capability:${label}:`).update(secret).digest();

function fromSecret(prefix: string, secret: Buffer): Capability {
  return { token: `${prefix}${secret.toString('base64url')}`, idHash: derive('id', secret).toString('hex'), key: derive('seal', secret) };
}

/** A new capability with a fresh random secret. */
export function createCapability(prefix: string): Capability {
  return fromSecret(prefix, randomBytes(SECRET_BYTES));
}

/** The capability a client-given token stands for; null when the token is not of the form `createCapability` makes. */
export function openCapability(prefix: string, token: string): Capability | null {
  if (!token.startsWith(prefix)) return null;
  const encoded = token.slice(prefix.length);
  if (encoded.length !== SECRET_CHARS || !BASE64URL.test(encoded)) return null;
  const secret = Buffer.from(encoded, 'base64url');
  // The last character carries 2 padding bits: only the one spelling createCapability makes is the token.
  if (secret.length !== SECRET_BYTES || secret.toString('base64url') !== encoded) return null;
  return fromSecret(prefix, secret);
}

/** AES-256-GCM under the capability's key: iv ‖ tag ‖ ciphertext. */
export function sealWithCapability(capability: Capability, plaintext: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', capability.key, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Opens what `sealWithCapability` sealed. @throws when the key is wrong or the bytes were changed. */
export function openWithCapability(capability: Capability, sealed: Uint8Array): Buffer {
  const bytes = Buffer.from(sealed);
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const decipher = createDecipheriv('aes-256-gcm', capability.key, bytes.subarray(0, IV_BYTES));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** Seals a value given in pieces; `finish` returns what `sealWithCapability` would for the pieces joined. */
export interface CapabilitySealer {
  /** Encrypts one piece at once (the plaintext is not kept). */
  update(plaintext: Buffer): void;
  /** Ends the value: iv ‖ tag ‖ ciphertext. Call once. */
  finish(): Buffer;
}

/**
 * A sealer for a value that arrives in pieces (a hosted image decoded as its base64 streams in): each
 * piece is encrypted as it comes and only ciphertext is held, because the tag that leads the sealed
 * form is known only at the end.
 */
export function createCapabilitySealer(capability: Capability): CapabilitySealer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', capability.key, iv);
  const pieces: Buffer[] = [];
  return {
    update: (plaintext) => void pieces.push(cipher.update(plaintext)),
    finish: () => {
      pieces.push(cipher.final());
      return Buffer.concat([iv, cipher.getAuthTag(), ...pieces]);
    },
  };
}
