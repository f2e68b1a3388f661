/**
 * Runs a validator made by a route's validator compiler (Ajv by default, or a
 * custom one) the way Fastify does for bodies: Ajv answers true/false with
 * `errors`, custom compilers (Joi, Zod...) answer `{ error }` or `{ value }`.
 */
import type { FastifyRequest } from 'fastify'

type ValidatorAnswer = boolean | { error?: unknown, value?: unknown } | PromiseLike<unknown>
type CompiledValidator = ((data: unknown, context?: AjvDataContext) => ValidatorAnswer) & { errors?: Array<{ instancePath?: string, message?: string }> | null }
// Where an Ajv validator writes a value it coerced: at the root only when it is given a parent to write into.
interface AjvDataContext { instancePath: string, parentData: Record<string, unknown>, parentDataProperty: string, rootData: unknown }

/** The outcome of a validation: the (possibly coerced) value, or what is wrong. */
export type Validation =
  | { valid: true, value: unknown }
  | { valid: false, message: string, validation: unknown }

/**
 * Compiles `schema` with the request's route validator compiler and returns a checker.
 * `context` prefixes the messages, as Fastify's `body/name must be string`.
 * @example const check = compileValidator(request, Type.Object({ text: Type.String() }), 'message')
 */
export function compileValidator (request: FastifyRequest, schema: unknown, context: string): (data: unknown) => Validation {
  const validate = request.compileValidationSchema(schema as Record<string, unknown>) as unknown as CompiledValidator
  // Ajv's own functions (they have a schemaEnv); a custom compiler's gets the data alone, as Fastify calls it.
  const ajv = 'schemaEnv' in validate
  return (data) => {
    // Ajv coerces a root scalar ("false" for a boolean) in a variable of its own: a holder gets the coerced value back.
    const holder = { data }
    const result = ajv ? validate(data, { instancePath: '', parentData: holder, parentDataProperty: 'data', rootData: data }) : validate(data)
    if (result === true) return { valid: true, value: holder.data }
    if (result === false) {
      const errors = validate.errors ?? []
      return { valid: false, message: errors.map((e) => `${context}${e.instancePath ?? ''} ${e.message ?? 'is invalid'}`).join(', '), validation: errors }
    }
    if (result !== null && typeof result === 'object' && !('then' in result)) {
      if (result.error !== undefined) return { valid: false, message: `${context} ${(result.error as Error).message ?? String(result.error)}`, validation: result.error }
      return { valid: true, value: 'value' in result ? result.value : data }
    }
    throw new TypeError(`asynchronous validators are not supported for ${context}`)
  }
}
