/**
 * What the store needs from the credential cipher (implemented in `control/credential-cipher.ts`):
 * the store keeps only sealed blobs and opens them when it builds the snapshot.
 */

/** What a sealed value is for; bound into the ciphertext so one kind of blob cannot stand in for another. */
export type CipherPurpose = 'account-credentials' | 'account-proxy' | 'master-key-check';

/** What a derived key is for. */
export type DerivedKeyLabel = 'prompt-hash';

/** Seals and opens values at rest (AES-256-GCM under the master key). */
export interface CredentialCipher {
  /** Seals `plain`; every call uses a fresh random IV, so equal inputs give different blobs. */
  encrypt(plain: Buffer | string, purpose: CipherPurpose): Buffer;
  /** Opens a blob sealed for `purpose`; throws if it was tampered with, sealed for another purpose or under another key. */
  decrypt(blob: Buffer, purpose: CipherPurpose): Buffer;
  /**
   * A 32-byte key for another use, derived from the master key (HKDF-SHA256 with the label), so an
   * installation has per-use secrets without storing more: the same on every instance of it.
   */
  deriveKey(label: DerivedKeyLabel): Buffer;
}
