import { Inject, Injectable } from '@nestjs/common';
import { PersonalDataVault } from '#personal-data';
import { isSealedValue, type SealedValue } from '#ticket-domain';

/**
 * Seals personal fields before they enter an event, and opens them for a response
 * (design.md: personal data never enters an event in clear). A field sealed under an erased
 * customer key opens as `null`.
 */
@Injectable()
export class PersonalFields {
  constructor(@Inject(PersonalDataVault) private readonly vault: PersonalDataVault) {}

  async seal<T extends Record<string, string | undefined>>(customerId: string, fields: T): Promise<{ [K in keyof T]?: SealedValue }> {
    const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
    return (await this.vault.sealFields(customerId, present)) as { [K in keyof T]?: SealedValue };
  }

  async open(customerId: string, sealed: SealedValue): Promise<string | null> {
    return this.vault.open(customerId, sealed);
  }

  /** A copy of `value` with every sealed value inside it opened (history `?reveal=true`). */
  /** The next open reads the customer's key state afresh (an erasure by another instance counts at once). */
  refresh(customerId: string): void {
    this.vault.refresh(customerId);
  }

  async openDeep(customerId: string, value: unknown): Promise<unknown> {
    if (isSealedValue(value)) return this.vault.open(customerId, value);
    if (Array.isArray(value)) return Promise.all(value.map((v) => this.openDeep(customerId, v)));
    if (typeof value === 'object' && value !== null) {
      const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await this.openDeep(customerId, v)] as const));
      return Object.fromEntries(entries);
    }
    return value;
  }
}
