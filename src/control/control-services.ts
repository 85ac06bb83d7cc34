import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db } from '../store/db.js';
import { createAccountService } from './account-service.js';
import type { AuditLog, ControlApi } from './control-api.js';
import { createGroupService } from './group-service.js';
import { createInstanceService } from './instance-service.js';
import { createJobService } from './job-service.js';
import { createKeyService } from './key-service.js';
import { createModelAliasService } from './model-alias-service.js';
import { createSettingsService } from './settings-service.js';
import { createUsageService } from './usage-service.js';

/** What the control services need: the database, the credential cipher, a clock (ms since epoch) and the audit log. */
export interface ControlServicesDeps {
  db: Db;
  cipher: CredentialCipher;
  now?: () => number;
  audit?: AuditLog;
}

/**
 * The control plane's service layer: the ONLY place control data is validated and written (the
 * admin API and the CLI both call it). Every write commits with a NOTIFY on CONTROL_CHANNEL.
 */
export function createControlServices({ db, cipher, now = Date.now, audit }: ControlServicesDeps): ControlApi {
  return {
    keys: createKeyService({ db, now, ...(audit ? { audit } : {}) }),
    accounts: createAccountService({ db, cipher, now }),
    groups: createGroupService({ db, now }),
    settings: createSettingsService({ db, now }),
    usage: createUsageService({ db }),
    modelAliases: createModelAliasService({ db, now }),
    jobs: createJobService({ db }),
    instances: createInstanceService({ db, now }),
  };
}
