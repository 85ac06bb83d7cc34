import type { AccountRow } from '../store/account-repo.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { AccountView } from './control-api.js';
import { maskProxyUrl } from './proxy-input.js';

/** Shown instead of a proxy that cannot be opened (wrong master key or corrupted data). */
export const UNREADABLE_PROXY = '(unreadable: wrong master key?)';

/** An account as operators see it: no token ever, the proxy password masked. */
export function buildAccountView(row: AccountRow, cipher: CredentialCipher): AccountView {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    imageEnabled: row.imageEnabled,
    imageConcurrency: row.imageConcurrency,
    proxy: row.proxyUrlEnc ? openProxy(row.proxyUrlEnc, cipher) : null,
    planType: row.planType,
    email: row.email,
    chatgptAccountId: row.chatgptAccountId,
    accessTokenExpiresAt: row.accessTokenExpiresAt,
    hasRefreshToken: row.hasRefreshToken,
    lastRefreshAt: row.lastRefreshAt,
    lastError: row.lastError,
    needsReimport: row.needsReimport,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function openProxy(sealed: Buffer, cipher: CredentialCipher): string {
  try {
    return maskProxyUrl(cipher.decrypt(sealed, 'account-proxy').toString('utf8'));
  } catch {
    return UNREADABLE_PROXY;
  }
}
