import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDefined,
  IsEmail,
  IsIn,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';
import { CHANNELS, type Channel } from '#ticket-domain';

const PHONE = /^\+?[0-9][0-9 ().-]{1,30}$/;
const PHONE_MESSAGE = 'must be a phone number: digits with optional +, spaces, dots, dashes or brackets';

/** At least one of phone or email (api.md). */
function HasPhoneOrEmail(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'hasPhoneOrEmail',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown) =>
          typeof value !== 'object' || value === null || 'phone' in value || 'email' in value,
        defaultMessage: (args?: ValidationArguments) => `${args?.property ?? 'customer'} needs at least one of phone or email`,
      },
    });
}

export class CustomerDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiPropertyOptional({ example: '+86 138 0013 8000' })
  @IsOptional()
  @IsString()
  @Matches(PHONE, { message: `phone ${PHONE_MESSAGE}` })
  phone?: string;

  @ApiPropertyOptional({ maxLength: 254 })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be an email address' })
  email?: string;

  @ApiPropertyOptional({ description: 'the CRM id; derived from phone or email when absent', maxLength: 100 })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.:-]{1,100}$/, { message: 'customerId must be 1 to 100 letters, digits or _ . : -' })
  customerId?: string;
}

export class TelephonyDto {
  @ApiProperty()
  @IsString()
  @Matches(PHONE, { message: `callerNumber ${PHONE_MESSAGE}` })
  callerNumber: string;

  @ApiProperty({ minimum: 0, maximum: 86400, description: 'time to connect; target ≤ 3 s (manual §2.1)' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(86400)
  connectSeconds: number;

  @ApiProperty({ minimum: 0, maximum: 86400, description: 'wait time; ≤ 5 s before transfer (manual §2.1)' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(86400)
  waitSeconds: number;

  @ApiProperty({ minimum: 0, maximum: 86400 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(86400)
  transferSeconds: number;
}

export class OpenTicketDto {
  @ApiProperty({ enum: CHANNELS })
  @IsIn(CHANNELS)
  channel: Channel;

  @ApiProperty({ type: CustomerDto })
  @IsDefined()
  @IsObject()
  @HasPhoneOrEmail()
  @ValidateNested()
  @Type(() => CustomerDto)
  customer: CustomerDto;

  @ApiProperty({ minLength: 1, maxLength: 4000 })
  @IsString()
  @Length(1, 4000)
  description: string;

  @ApiPropertyOptional({ description: 'when the customer made contact; default now; not in the future' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  receivedAt?: string;

  @ApiPropertyOptional({ type: TelephonyDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => TelephonyDto)
  telephony?: TelephonyDto;
}
