/** Hosts that mean "every interface": no other machine can reach a listener by them. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '[::]', '::']);

/**
 * The base URL other processes use to reach this data plane (its GET /status), recorded in the
 * instance registry: ADVERTISE_URL when set, else the listener as bound (`boundUrl`), with a
 * wildcard host replaced by `machineName` (the hostname), since `0.0.0.0` reaches only oneself.
 */
export function resolveAdvertisedUrl(advertiseUrl: string | null, boundUrl: string, machineName: string): string {
  if (advertiseUrl !== null) return advertiseUrl;
  const url = new URL(boundUrl);
  if (WILDCARD_HOSTS.has(url.hostname)) url.hostname = machineName;
  return url.origin;
}
