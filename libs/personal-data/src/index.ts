/**
 * Personal data of Ticketflow's customers: the keys that protect it, the pseudonymous customer
 * id, and the vault that seals fields for events and erases them by destroying keys
 * (design.md "Event envelope" and "Configuration"; api.md erasure).
 */
export {
  CustomerKeyNotFoundError,
  InvalidCustomerContactError,
  KeyConfigurationError,
  MasterKeyMismatchError,
  PersonalDataErasedError,
  PersonalDataError,
  PersonalDataTamperedError,
} from './errors.js';
export {
  derivePseudonymKey,
  loadMasterKey,
  MASTER_KEY_FILE,
  MASTER_KEY_VARIABLE,
  PSEUDONYM_KEY_INFO,
  PSEUDONYM_KEY_VARIABLE,
  type LoadMasterKeyOptions,
  type PersonalDataKeys,
} from './master-key.js';
export {
  deriveCustomerId,
  DERIVED_CUSTOMER_ID_PATTERN,
  isDerivedCustomerId,
  normaliseEmail,
  normalisePhone,
  type CustomerContact,
} from './customer-id.js';
export {
  CUSTOMER_KEYS_SCHEMA,
  DEFAULT_KEY_CACHE_SIZE,
  DEFAULT_KEY_CACHE_TTL_MS,
  PersonalDataVault,
  type OpenedFields,
  type PersonalDataVaultOptions,
  type SealedFields,
} from './personal-data-vault.js';
