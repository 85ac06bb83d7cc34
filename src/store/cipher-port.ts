/**
 * What the store needs from the credential cipher (implemented in `control/credential-cipher.ts`):
 * the store keeps only sealed blobs and opens them when it builds the snapshot.
 */

/** What a sealed value is for; bound into the ciphertext so one kind of blob cannot stand in for another. */
export type CipherPurpose = 'account-credentials' | 'account-proxy' | 'master-key-check';

/** Seals and opens values at rest (AES-256-GCM under the master key). */
export interface CredentialCipher {
  /** Seals `plain`; every call uses a fresh random IV, so equal inputs give different blobs. */
  encrypt(plain: Buffer | string, purpose: CipherPurpose): Buffer;
  /** Opens a blob sealed for `purpose`; throws if it was tampered with, sealed for another purpose or under another key. */
  decrypt(blob: Buffer, purpose: CipherPurpose): Buffer;
}
